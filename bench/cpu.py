"""CPU use of the processes a phase runs, read from ``/proc``.

The same idea as the anchors' ``measure.py`` (utime + stime of each process and its
descendants, before and after a window), written here for smsgate's phases: a figure is
only comparable when we know which process burnt the two shared cores.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HZ = os.sysconf("SC_CLK_TCK")


def _own_seconds(pid: int) -> float:
    # Fields after the command name (which may hold spaces and parentheses).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    # Every thread's list: a child started by a thread other than the main one is listed there.
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def cpu_seconds(pid: int, *, tree: bool = False) -> float | None:
    """utime + stime of ``pid`` (and its descendants when ``tree``); None once it is gone."""
    total, todo, seen = 0.0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            total += _own_seconds(current)
            if tree:
                todo += _children(current)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            if current == pid:
                return None
    return total


def machine_seconds() -> tuple[float, float]:
    """All cores' time and their idle + iowait time since boot, in seconds."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return sum(values) / HZ, (values[3] + values[4]) / HZ


def loadavg() -> list[float]:
    return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    wall: float
    procs: dict[str, float]
    total: float
    idle: float


@dataclass
class CpuMeter:
    """The processes to watch, by name; ``tree`` also counts a process's descendants."""

    watched: dict[str, tuple[int, bool]] = field(default_factory=dict)

    def watch(self, name: str, pid: int, *, tree: bool = False) -> None:
        self.watched[name] = (pid, tree)

    def forget(self, name: str) -> None:
        self.watched.pop(name, None)

    def snapshot(self) -> Snapshot:
        procs = {}
        for name, (pid, tree) in self.watched.items():
            seconds = cpu_seconds(pid, tree=tree)
            if seconds is not None:
                procs[name] = seconds
        total, idle = machine_seconds()
        return Snapshot(time.monotonic(), procs, total, idle)


def usage(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """Each process's CPU as % of one core over the window, and how busy the machine was
    (% of all its cores, whoever used them: other work on a shared machine shows here)."""
    wall = max(after.wall - before.wall, 1e-9)
    per = {
        name: round(100 * (after.procs[name] - before.procs[name]) / wall)
        for name in after.procs
        if name in before.procs
    }
    elapsed = after.total - before.total
    busy = 100 * (1 - (after.idle - before.idle) / elapsed) if elapsed > 0 else 0.0
    return {
        "cpu_pct_of_one_core": per,
        "machine_busy_pct": round(busy, 1),
        "cores": os.cpu_count() or 1,
        "loadavg": loadavg(),
    }
