"""batched: every item once, in order, in pieces no larger than asked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.kit.chunks import batched


@given(st.lists(st.integers()), st.integers(min_value=1, max_value=50))
def test_pieces_rebuild_the_input(items: list[int], size: int) -> None:
    pieces = list(batched(iter(items), size))
    assert [x for piece in pieces for x in piece] == items
    assert all(1 <= len(piece) <= size for piece in pieces)
    assert all(len(piece) == size for piece in pieces[:-1])


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(batched([1], 0))
