"""Splitting work into bounded pieces (``itertools.batched`` arrives in Python 3.12)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, lazily: a generator is never held whole."""
    if size < 1:
        raise ValueError("size must be at least 1")
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
