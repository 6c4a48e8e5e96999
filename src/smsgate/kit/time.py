from __future__ import annotations

from datetime import UTC, datetime

# Times taken from requests stay far inside what ``datetime`` holds, so that converting one
# to UTC or adding a validity or a report's span to it never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def in_range(value: datetime) -> bool:
    """Whether an aware time lies in [EARLIEST, LATEST)."""
    try:
        return EARLIEST <= value.astimezone(UTC) < LATEST
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        return False
