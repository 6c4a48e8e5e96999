"""Progress on stderr, so that stdout carries only the table."""

from __future__ import annotations

import sys
import time


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Ticker:
    """One status line for a long phase: rewritten in place on a terminal; elsewhere (a log,
    a test) a new line at most every ``every`` seconds, so a log stays readable."""

    def __init__(self, label: str, *, every: float = 5.0) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.every = 1.0 if self.tty else every
        self.started = time.monotonic()
        self._last = 0.0
        self._width = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def update(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        self._write(f"{self.label}: {text} [{self.elapsed():.0f} s]")

    def done(self, text: str) -> None:
        self._write(f"{self.label}: {text} [{self.elapsed():.1f} s]", final=True)

    def _write(self, line: str, *, final: bool = False) -> None:
        if self.tty:
            pad = " " * max(self._width - len(line), 0)
            self._width = len(line)
            sys.stderr.write(f"\r{line}{pad}" + ("\n" if final else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
