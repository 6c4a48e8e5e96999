"""Phase 5 (optional): the peer gateways, measured by the anchors' own scripts in this run.

``run_all.sh`` (Jasmin 0.11.1, about 12 minutes) and ``run_kannel.sh`` (Kannel 1.4.5, about
4 minutes) install what they need (Debian packages, Jasmin from PyPI into /tmp/anchors) and
append one JSON line per phase to ``results.jsonl`` beside them; we read the lines they
added. Jasmin goes first: Kannel's script runs its sink with the venv Jasmin's setup makes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from bench.cpu import loadavg
from bench.progress import Ticker, note

SCRIPTS = {"jasmin": "run_all.sh", "kannel": "run_kannel.sh"}
LABELS = {"jasmin": "http_", "kannel": "kannel_"}
VENV_PYTHON = Path("/tmp/anchors/jasmin-venv/bin/python")


def run(anchors: Path, names: list[str], *, quick: bool, logdir: Path) -> dict[str, Any]:
    missing = [SCRIPTS[n] for n in names if not (anchors / SCRIPTS[n]).is_file()]
    if missing:
        reason = f"peers skipped: {', '.join(missing)} not found in {anchors} (--anchors DIR)"
        note(reason)
        return {"skipped": reason}
    results: dict[str, Any] = {}
    for name in sorted(names, key=["jasmin", "kannel"].index):
        if name == "kannel" and not VENV_PYTHON.exists():
            _script(anchors, "setup.sh", "setup", logdir, quick=quick)
        before = loadavg()
        lines = _script(anchors, SCRIPTS[name], name, logdir, quick=quick)
        # measure.py records no load average: the heading of its rows in the table does
        results[f"{name}_loadavg"] = {"start": before, "end": loadavg()}
        results[name] = [line for line in lines if line.get("label", "").startswith(LABELS[name])]
    return results


def _script(anchors: Path, script: str, name: str, logdir: Path, *, quick: bool) -> list[Any]:
    """Run one script, its output to a log and a ticker; return the result lines it added."""
    results = anchors / "results.jsonl"
    before = results.read_text() if results.exists() else ""
    logdir.mkdir(parents=True, exist_ok=True)  # a run of the peers alone made no other logs
    log = logdir / f"peer-{name}.log"
    env = {**os.environ, "DUR": "5" if quick else "25"}
    ticker = Ticker(f"peer {name} ({script})", every=15)
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", script],
            cwd=anchors,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if line.strip():
                ticker.update(line.strip()[:100])
        proc.wait()
    ticker.done(f"exit {proc.returncode}; log {log}")
    after = results.read_text() if results.exists() else ""
    # run_all.sh starts a fresh file; run_kannel.sh appends to it.
    added = after[len(before) :] if after.startswith(before) else after
    lines = []
    for text in added.splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            note(f"peer {name}: not a result line in results.jsonl: {text[:80]!r}")
    return lines


def by_connections(lines: list[dict[str, Any]], *, dlr: bool) -> dict[int, dict[str, Any]]:
    return {int(x["connections"]): x for x in lines if bool(x.get("dlr")) == dlr}


def ratios(
    peers: dict[str, Any], single: list[dict[str, Any]], e2e: list[dict[str, Any]]
) -> dict[str, Any]:
    """smsgate's figure over each peer's, where the peer measured the same thing."""
    out: dict[str, Any] = {}
    for name in ("kannel", "jasmin"):
        lines = peers.get(name)
        if not isinstance(lines, list) or not lines:
            continue
        plain, with_dlr = by_connections(lines, dlr=False), by_connections(lines, dlr=True)
        rows = {}
        for row in (r for r in single if r["check"]["ok"]):
            peer = plain.get(row["connections"])
            if peer and peer.get("http_req_per_s"):
                key = f"single {row['engine']} {row['endpoint']} c={row['connections']}"
                rows[key] = round(row["accepted_per_s"] / peer["http_req_per_s"], 2)
        peer_e2e = with_dlr.get(16, {}).get("end_to_end_submit_sm_per_s_incl_drain")
        for row in (r for r in e2e if r["check"]["ok"]):
            if peer_e2e:
                key = f"e2e {row['engine']} workers={row['workers']}"
                rows[key] = round(row["submit_sm_per_s_end_to_end"] / peer_e2e, 2)
        out[name] = rows
    return out
