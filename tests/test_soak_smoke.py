"""The soak command runs (briefly) so it cannot rot; its real run is 30 minutes on demand."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.postgres import free_port


def test_a_short_soak_reports_and_passes() -> None:
    command = [sys.executable, "-m", "bench.soak", "--minutes", "0.15", "--rate", "20"]
    command += ["--report-every", "3", "--port", str(free_port())]
    out = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert out.returncode == 0, out.stdout + out.stderr
    intervals, summary = lines[:-1], lines[-1]
    assert len(intervals) >= 2
    assert all(line["errors_5xx"] == 0 and line["rss_mb"] > 0 for line in intervals)
    # every operation of the mix answered 2xx: bad requests would show as 4xx here
    assert sum(line["errors_4xx_or_transport"] for line in intervals) == 0
    assert summary["ok"] is True and summary["undrained"] == 0
    assert summary["requests"] >= 150
