"""A tiny run of the single-send benchmark so that it cannot rot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_single_send_benchmark_runs() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.single_send",
            "--connections",
            "4",
            "--seconds",
            "1",
            "--port",
            str(free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    (line,) = out.stdout.strip().splitlines()
    figures = json.loads(line)
    assert figures["requests_per_s"] > 0
    assert figures["non_2xx"] == 0


def test_bulk_send_benchmark_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bulk_send", "--recipients", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["recipients"] == 300
    assert figures["seconds"] > 0
