"""Tiny runs of the benchmark commands so that they cannot rot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.postgres import free_port, pg_bin

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = ROOT.parent / "shared" / "anchors"  # python -m bench's default --anchors
needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


def _positive(row: dict[str, Any], *keys: str) -> None:
    for key in keys:
        assert row[key] > 0, (key, row)


def _checked(row: dict[str, Any]) -> None:
    """The database held every accepted message, charged exactly once."""
    check = row["check"]
    assert check["ok"], check
    assert check["messages"] >= check["accepted"] > 0
    assert check["charged"] == check["priced"] != "0"
    cpu = row["cpu_pct_of_one_core"]
    assert cpu["smsgate"] > 0, cpu
    assert 0 < row["machine_busy_pct"] <= 100


@needs_wrk
def test_quick_benchmark_measures_every_phase(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "all", "--quick", "--engines", "sqlite", "--out", out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    assert {"meta", "single", "bulk", "e2e", "e2e_pg"} <= set(results)
    assert results["meta"]["quick"] is True
    assert len(results["meta"]["loadavg_start"]) == 3

    single = results["single"]
    assert {r["endpoint"] for r in single} == {"/v1/messages", "/api/send_sms.php"}
    for row in single:
        assert row["engine"] == "sqlite" and row["non_2xx"] == 0
        _positive(row, "accepted_per_s", "p50_ms", "p99_ms")
        assert row["p99_ms"] >= row["p50_ms"]
        _checked(row)

    (bulk,) = results["bulk"]
    assert bulk["recipients"] == bulk["check"]["messages"] == 2000
    assert bulk["check"]["all_queued"] and bulk["check"]["charge_entries"] == 1
    _positive(bulk, "seconds", "recipients_per_s")
    assert bulk["peak_rss_mb"] >= bulk["rss_before_mb"] > 0
    _checked(bulk)

    e2e_runs = [("e2e", ANCHORS.is_dir()), ("e2e_pg", ANCHORS.is_dir() and pg_bin() is not None)]
    for key, can_run in e2e_runs:
        if not can_run:
            assert "skipped" in results[key]
            continue
        for row in results[key]:
            assert row["statuses"] == {"delivered": row["messages"]}
            assert row["submit_sm"] == row["receipts_acked"] == row["messages"]
            _positive(row, "submit_sm_per_s", "receipts_per_s", "seconds_to_last_delivered")
            _checked(row)
    if pg_bin() is not None and ANCHORS.is_dir():
        (two,) = results["e2e_pg"]
        assert two["connectors"] == {"sink-1": "worker-1", "sink-2": "worker-2"}
        assert two["cpu_pct_of_one_core"]["worker-1"] > 0
        assert two["cpu_pct_of_one_core"]["worker-2"] > 0

    assert (out / "results.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "1. Single sends over HTTP" in run.stdout
    assert (out / "table.txt").read_text() == run.stdout


@needs_wrk
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


def test_peers_are_skipped_with_a_reason_when_the_anchors_are_absent(tmp_path: Path) -> None:
    from bench import peers

    result = peers.run(tmp_path / "nowhere", ["jasmin", "kannel"], quick=True, logdir=tmp_path)
    assert "run_all.sh, run_kannel.sh not found" in result["skipped"]
    assert "--anchors" in result["skipped"]


def test_ratios_compare_the_same_measurement() -> None:
    from bench import peers

    # lines as the anchors' measure.py writes them (only the fields the ratios read)
    kannel = [
        {"label": "kannel_c1_nodlr", "connections": 1, "dlr": False, "http_req_per_s": 3000.0},
        {"label": "kannel_c16_nodlr", "connections": 16, "dlr": False, "http_req_per_s": 5000.0},
        {
            "label": "kannel_c16_dlr3",
            "connections": 16,
            "dlr": True,
            "http_req_per_s": 4000.0,
            "end_to_end_submit_sm_per_s_incl_drain": 1250.0,
        },
    ]
    ok, failed = {"ok": True}, {"ok": False}
    single = [
        {"engine": e, "endpoint": "/v1/messages", "connections": c, "accepted_per_s": r, "check": k}
        for e, c, r, k in (
            ("sqlite", 1, 1500.0, ok),
            ("sqlite", 16, 6000.0, ok),
            ("sqlite", 64, 7000.0, ok),
            ("postgres", 16, 9000.0, failed),  # a figure whose check failed has no ratio
        )
    ]
    e2e = [
        {"engine": "sqlite", "workers": "in-process", "submit_sm_per_s_end_to_end": 2500.0}
        | {"check": ok},
        {"engine": "postgres", "workers": 1, "submit_sm_per_s_end_to_end": 900.0}
        | {"check": failed},
    ]
    assert peers.ratios({"kannel": kannel, "jasmin": []}, single, e2e) == {
        "kannel": {
            "single sqlite /v1/messages c=1": 0.5,
            "single sqlite /v1/messages c=16": 1.2,  # 64 connections: Kannel has no figure
            "e2e sqlite workers=in-process": 2.0,
        }
    }
