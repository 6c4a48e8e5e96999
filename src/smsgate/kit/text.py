"""Text that every engine can store.

PostgreSQL refuses NUL (U+0000) in text, and neither engine takes a lone UTF-16 surrogate
(``"\\ud800"``, which JSON can spell but UTF-8 cannot encode). Input that reaches a shared
write (a send joins a group-commit batch) is checked with ``storable`` first, so that one bad
request cannot fail the batch it rides in.
"""

from __future__ import annotations


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
