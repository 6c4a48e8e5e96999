"""``smsgate`` commands for the tests, each in a process of its own without its start-up.

A command run as the console script spends about 1.2 s of CPU importing (SQLAlchemy,
pydantic, typer, the connectors) before it does anything, and the suite runs a few hundred
of them. Here one process per test worker imports ``smsgate.cli`` once
(``cli_zygote.py``) and forks a child for each command: the child gets the command's
environment, working directory, arguments and standard streams and runs the console
script's entry point (``smsgate.cli:main``), so settings, exit codes and output are the
command's own, in a process that ends with it. Nothing is shared with the test's process.
``tests/test_cli.py`` still runs the installed console script itself where the script is
the subject (``serve --help``, ``db upgrade`` of a fresh file, an over-long SMPP field).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

Result = subprocess.CompletedProcess[str]
_ZYGOTE = Path(__file__).with_name("cli_zygote.py")
_lock = threading.Lock()
_zygote: subprocess.Popen[str] | None = None


def _start() -> subprocess.Popen[str]:
    global _zygote
    if _zygote is None or _zygote.poll() is not None:
        root = str(Path(__file__).resolve().parents[2])
        _zygote = subprocess.Popen(
            [sys.executable, str(_ZYGOTE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # inherited: only the zygote's own failure (an import) writes here; each child
            # has its command's stderr file
            text=True,
            cwd=root,
            env={k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")},
        )
        atexit.register(_stop, _zygote)
    return _zygote


def _stop(zygote: subprocess.Popen[str]) -> None:
    if zygote.poll() is None:
        assert zygote.stdin is not None
        zygote.stdin.close()
        try:
            zygote.wait(timeout=5)
        except subprocess.TimeoutExpired:
            zygote.kill()
            zygote.wait()
    assert zygote.stdout is not None
    zygote.stdout.close()


def _line(zygote: subprocess.Popen[str], timeout: float | None) -> str | None:
    assert zygote.stdout is not None
    if timeout is not None and not select.select([zygote.stdout], [], [], timeout)[0]:
        return None
    line = zygote.stdout.readline()
    if not line:
        raise RuntimeError("the CLI zygote ended")
    return line


def smsgate(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | str,
    input: str = "",
    timeout: float = 60,
) -> Result:
    """``smsgate *args`` with exactly ``env`` as its environment, like ``subprocess.run``
    with ``capture_output=True, text=True``; TimeoutExpired (the child killed) past
    ``timeout``."""
    with _lock, tempfile.TemporaryDirectory(prefix="smsgate-cli-") as tmp:
        streams = {name: Path(tmp, name) for name in ("stdin", "stdout", "stderr")}
        streams["stdin"].write_text(input)
        request = {"args": list(args), "env": dict(env), "cwd": str(cwd)}
        request |= {name: str(path) for name, path in streams.items()}
        zygote = _start()
        assert zygote.stdin is not None
        zygote.stdin.write(json.dumps(request) + "\n")
        zygote.stdin.flush()
        forked = _line(zygote, 30)
        if forked is None:
            raise RuntimeError("the CLI zygote did not fork within 30 s")
        pid = int(forked)
        code = _line(zygote, timeout)
        if code is None:
            os.kill(pid, signal.SIGKILL)
            _line(zygote, None)
            raise subprocess.TimeoutExpired(["smsgate", *args], timeout)
        return Result(
            ["smsgate", *args],
            int(code),
            streams["stdout"].read_text(errors="replace"),
            streams["stderr"].read_text(errors="replace"),
        )
