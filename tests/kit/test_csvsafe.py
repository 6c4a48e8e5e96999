"""CSV injection: exported cells never start like a formula, and import undoes the quoting."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.kit.csvsafe import TRIGGERS, neutralise, safe_row, to_csv, unneutralise


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+45 20 00 00 00", "'+45 20 00 00 00"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("Denmark", "Denmark"),
        ("", ""),
        ("'=looks quoted", "''=looks quoted"),
        ("'quoted text", "'quoted text"),
        ("a=b", "a=b"),
        (None, ""),
        (12, "12"),
        ("-5.00", "'-5.00"),
    ],
)
def test_neutralise(cell: object, expected: str) -> None:
    assert neutralise(cell) == expected


def test_plain_numbers_may_stay_numbers() -> None:
    assert neutralise("-5.00", allow_numbers=True) == "-5.00"
    assert neutralise("-5", allow_numbers=True) == "-5"
    assert neutralise("-5e3", allow_numbers=True) == "'-5e3"
    assert neutralise("-1+2", allow_numbers=True) == "'-1+2"
    assert neutralise("+5", allow_numbers=True) == "'+5"
    assert safe_row(["=x", "-1.5", "ok"], allow_numbers=True) == ["'=x", "-1.5", "ok"]


@given(st.text())
def test_never_a_formula_and_reversible(text: str) -> None:
    safe = neutralise(text)
    assert not safe.startswith(TRIGGERS)
    assert unneutralise(safe) == text


@given(
    st.lists(
        st.lists(
            st.text(alphabet=st.characters(exclude_categories=["Cs"])), min_size=1, max_size=4
        ),
        max_size=5,
    )
)
def test_document_round_trip(rows: list[list[str]]) -> None:
    document = to_csv(["a", "b", "c", "d"], rows)
    parsed = list(csv.reader(io.StringIO(document, newline="")))
    assert parsed[0] == ["a", "b", "c", "d"]
    for original, cells in zip(rows, parsed[1:], strict=True):
        assert not any(c.startswith(TRIGGERS) for c in cells)
        assert [unneutralise(c) for c in cells] == original
