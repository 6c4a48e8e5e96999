"""What every phase shares: the sizes asked for, where files go, the PostgreSQL server."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.pg import PgServer
from bench.procs import BenchError
from smsgate.migrations import upgrade

SINK = "smsc_sink.py"


@dataclass(frozen=True, slots=True)
class Sizes:
    connections: tuple[int, ...] = (1, 16, 64)
    seconds: float = 10.0  # each single-send load
    warmup: float = 3.0
    bulk: tuple[int, ...] = (100_000, 1_000_000)
    e2e_messages: int = 100_000
    e2e_connections: int = 16
    workers: tuple[int, ...] = (1, 2)
    stall: float = 60.0  # give up waiting for receipts after this long without progress

    @classmethod
    def quick(cls) -> Sizes:
        """A few seconds a phase: what the smoke test runs so the command cannot rot."""
        return cls(
            connections=(16,),
            seconds=1.0,
            warmup=0.0,
            bulk=(2_000,),
            e2e_messages=300,
            workers=(2,),  # the staged start of two workers; one worker is its first step
            stall=15.0,
        )


@dataclass
class Context:
    out: Path
    anchors: Path
    sizes: Sizes
    engines: tuple[str, ...]
    window: int = 10
    dispatch: bool = True
    api_workers: int = 1  # smsgate serve --workers
    wrk_threads: int = 1
    pg: PgServer | None = None
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="smsgate-bench-")))
    _names: itertools.count[int] = field(default_factory=itertools.count)
    _pg_template: bool = False

    @property
    def logs(self) -> Path:
        return self.out / "logs"

    def logs_of(self, phase: str) -> Path:
        """Each phase's processes log into their own directory."""
        return self.logs / phase

    def database(self, engine: str, label: str) -> str:
        """A fresh database with the schema for one phase: a copy of a template migrated
        once per engine (migrating takes seconds; a copy takes milliseconds)."""
        name = f"{label}_{next(self._names)}"
        if engine == "sqlite":
            template = self.scratch / "template.db"
            if not template.exists():
                upgrade(f"sqlite:///{template}")
            shutil.copyfile(template, self.scratch / f"{name}.db")
            return f"sqlite:///{self.scratch / name}.db"
        if self.pg is None:
            raise BenchError("PostgreSQL is not running (its binaries were not found)")
        if not self._pg_template:
            upgrade(self.pg.create_database("template_bench"))
            self._pg_template = True
        return self.pg.create_database(name, template="template_bench")

    def sink(self) -> Path | None:
        path = self.anchors / SINK
        return path if path.is_file() else None

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
