"""The processes a phase runs: smsgate's own commands and the anchors' SMPP sink.

Each writes to a log file in the run's directory; a process that dies while starting fails
the phase with the end of its log. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SMSGATE = str(Path(sys.executable).with_name("smsgate"))


class BenchError(RuntimeError):
    """A phase went wrong; the message says what to fix."""


class Skipped(BenchError):
    """A phase cannot run on this machine (a tool or the anchors are missing)."""


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise BenchError(
                f"{self.name} exited with {self.popen.returncode}; end of {self.log}:\n"
                + self.tail()
            )

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self, timeout: float = 30) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def start(name: str, args: list[str], logdir: Path, env: dict[str, str] | None = None) -> Proc:
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    return Proc(name, popen, log)


@contextmanager
def running() -> Iterator[list[Proc]]:
    """Collects the processes a phase starts and stops them all, newest first, at the end."""
    procs: list[Proc] = []
    try:
        yield procs
    finally:
        for proc in reversed(procs):
            proc.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def smsgate_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "SMSGATE_DATABASE_URL": url,
        "SMSGATE_LOG_LEVEL": "warning",
        "SMSGATE_DEMO": "false",
        **extra,
    }


def wait_until(proc: Proc, ready: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        proc.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"{proc.name}: {what} within {timeout:.0f} s; see {proc.log}")
        time.sleep(0.1)


def start_api(
    url: str,
    logdir: Path,
    *,
    dispatch: bool,
    env: dict[str, str] | None = None,
    workers: int = 1,
) -> tuple[Proc, str]:
    """``smsgate serve`` on a free port; returns it and its base URL once it answers."""
    port = free_port()
    args = [SMSGATE, "serve", "--port", str(port), "--workers", str(workers)]
    args += [] if dispatch else ["--no-dispatch"]
    proc = start("smsgate", args, logdir, smsgate_env(url, **(env or {})))
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/status", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(proc, up, "no answer on /status")
    return proc, base


def start_worker(url: str, logdir: Path, index: int, env: dict[str, str] | None = None) -> Proc:
    return start(f"worker-{index}", [SMSGATE, "worker"], logdir, smsgate_env(url, **(env or {})))


def start_sink(script: Path, logdir: Path, *, dlr: bool) -> tuple[Proc, int, Path]:
    """The anchors' SMPP sink on a free port; returns it, the port and its counters file."""
    port = free_port()
    stats = logdir / f"sink-{port}.json"
    args = [sys.executable, str(script), "--port", str(port), "--stats", str(stats)]
    proc = start("sink", args + (["--dlr"] if dlr else []), logdir)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    wait_until(proc, listening, "SMPP port not open", timeout=20)
    return proc, port, stats


def memory_mb(pid: int) -> dict[str, float]:
    """Resident set now (VmRSS) and its high-water mark since start (VmHWM), in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)  # reported in kB
    return values
