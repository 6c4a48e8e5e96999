"""The independent SMSC: ``tests/support/npm_smsc.js`` on the npm ``smpp`` package, run by node.

``install_smpp(folder)`` puts the pinned package into ``folder`` with npm (once per test
session, see ``tests/dispatch/conftest.py``); ``running_smsc(...)`` starts the script on a
free loopback port and stops it afterwards.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SMPP_PACKAGE = "smpp@0.5.1"  # node-smpp, MIT; pinned so every run tests against the same code
SCRIPT = Path(__file__).with_name("npm_smsc.js")


def missing_tools() -> str | None:
    """Why the npm SMSC cannot run here, or None when node and npm are both available."""
    absent = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(absent)} not on PATH" if absent else None


def install_smpp(folder: Path) -> Path:
    """Install the pinned package into ``folder``; returns its node_modules folder."""
    npm = shutil.which("npm")
    assert npm is not None
    done = subprocess.run(
        [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", SMPP_PACKAGE],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    modules = folder / "node_modules"
    if done.returncode != 0 or not (modules / "smpp").is_dir():
        raise RuntimeError(f"npm install {SMPP_PACKAGE} failed:\n{done.stdout}\n{done.stderr}")
    return modules


@dataclass
class NpmSmsc:
    port: int
    process: subprocess.Popen[str]

    def stats(self, timeout: float = 5.0) -> dict[str, Any]:
        """The server's counters (binds, submits, receipts, redelivered, drops, held)."""
        assert self.process.stdout is not None
        self.process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith("STATS "):
                    found: dict[str, Any] = json.loads(line[6:])
                    return found
        raise AssertionError("the npm SMSC did not report its counters")


@contextmanager
def running_smsc(
    modules: Path,
    *,
    receipt_delay_ms: int = 50,
    drop_every: float = 0,
    record: Path | None = None,
) -> Iterator[NpmSmsc]:
    """With ``record``, the SMSC writes each submit_sm's destination_addr to that file, one
    a line; the file is complete once the context has exited."""
    node = shutil.which("node")
    assert node is not None
    command = [node, str(SCRIPT), "--receipt-delay", str(receipt_delay_ms)]
    if drop_every:
        command += ["--drop-every", str(drop_every)]
    if record is not None:
        command += ["--record", str(record)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"the npm SMSC did not start (said {line!r})")
        yield NpmSmsc(int(line.split()[1]), process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
