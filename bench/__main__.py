"""smsgate's benchmark: ``python -m bench [all|single|bulk|e2e|e2e-pg|peers] [--quick]``.

Starts everything it needs on 127.0.0.1 (smsgate, a throwaway PostgreSQL, the anchors' SMPP
sink, wrk), prints a table on stdout (progress goes to stderr) and writes ``results.json``,
``results.png`` and ``table.txt`` into ``--out``. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import bulk, e2e, peers, pg, report, single, wrk
from bench.context import Context, Sizes
from bench.cpu import loadavg
from bench.procs import BenchError, Skipped
from bench.progress import note

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("all", "single", "bulk", "e2e", "e2e-pg", "peers")


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x.replace("_", "")) for x in text.split(",") if x.strip())


def _engines(text: str) -> tuple[str, ...]:
    chosen = tuple(e.strip() for e in text.split(",") if e.strip())
    unknown = set(chosen) - {"sqlite", "postgres"}
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"engines are sqlite and postgres, not {text!r}")
    return chosen


def _peer_names(text: str) -> tuple[str, ...]:
    chosen = tuple(e.strip() for e in text.split(",") if e.strip())
    if not chosen or set(chosen) - set(peers.SCRIPTS):
        raise argparse.ArgumentTypeError(f"peers are jasmin and kannel, not {text!r}")
    return chosen


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("phase", nargs="?", default="all", choices=PHASES)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds a phase")
    parser.add_argument("--out", type=Path, help="results directory (default bench/results/<time>)")
    parser.add_argument(
        "--peers",
        nargs="?",
        type=_peer_names,
        const=("jasmin", "kannel"),
        default=(),
        help="also run the peers' scripts: jasmin,kannel (the default; about 16 minutes)",
    )
    parser.add_argument(
        "--anchors",
        type=Path,
        default=ROOT.parent / "shared" / "anchors",
        help="the anchors directory (SMPP sink, peer scripts)",
    )
    parser.add_argument(
        "--engines",
        type=_engines,
        default=("sqlite", "postgres"),
        help="databases of single and bulk (e2e is SQLite, e2e-pg PostgreSQL)",
    )
    parser.add_argument("--connections", type=_ints, help="single sends, e.g. 1,16,64")
    parser.add_argument("--seconds", type=float, help="length of each single-send load")
    parser.add_argument("--bulk-sizes", type=_ints, help="e.g. 100000,1000000")
    parser.add_argument("--e2e-messages", type=int, help="messages per end-to-end run")
    parser.add_argument("--workers", type=_ints, help="worker counts on PostgreSQL, e.g. 1,2")
    parser.add_argument("--window", type=int, default=10, help="SMPP window (Kannel's is 10)")
    parser.add_argument(
        "--no-dispatch", action="store_true", help="single sends with the API alone"
    )
    parser.add_argument(
        "--api-workers", type=int, default=1, help="smsgate serve --workers (single and e2e)"
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="as the anchors: 1")
    return parser.parse_args(argv)


def sizes(args: argparse.Namespace) -> Sizes:
    base = Sizes.quick() if args.quick else Sizes()
    chosen = {
        "connections": args.connections,
        "seconds": args.seconds,
        "bulk": args.bulk_sizes,
        "e2e_messages": args.e2e_messages,
        "workers": args.workers,
    }
    return replace(base, **{k: v for k, v in chosen.items() if v is not None})


def meta(args: argparse.Namespace, ctx: Context) -> dict[str, Any]:
    def git(*cmd: str) -> str:
        out = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    cpu = next(
        (
            x.split(":", 1)[1].strip()
            for x in Path("/proc/cpuinfo").read_text().splitlines()
            if x.startswith("model name")
        ),
        "",
    )
    return {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "argv": sys.argv[1:],
        "git": git("rev-parse", "--short", "HEAD")
        + (" (modified)" if git("status", "--porcelain", "--", "src") else ""),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk.version() if wrk.available() else None,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg_start": loadavg(),
        "sizes": asdict(ctx.sizes),
        "engines": list(ctx.engines),
        "smpp_window": ctx.window,
        "durability": "SQLite WAL synchronous=FULL; PostgreSQL fsync and synchronous_commit on",
    }


def _guard(results: dict[str, Any], key: str, fn: Callable[[], Any]) -> None:
    """A phase that cannot run is recorded with its reason; the other phases go on."""
    started = time.monotonic()
    try:
        results[key] = fn()
    except Skipped as exc:
        note(f"{key} skipped: {exc}")
        results[key] = {"skipped": str(exc)}
    except BenchError as exc:
        note(f"{key}: {exc}")
        results[key] = {"error": str(exc)}
    results["meta"].setdefault("phase_seconds", {})[key] = round(time.monotonic() - started, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    engines: tuple[str, ...] = args.engines
    ctx = Context(
        out=args.out,
        anchors=args.anchors,
        sizes=sizes(args),
        engines=engines,
        window=args.window,
        dispatch=not args.no_dispatch,
        wrk_threads=args.wrk_threads,
        api_workers=args.api_workers,
    )
    results: dict[str, Any] = {"meta": meta(args, ctx)}
    phases = ["single", "bulk", "e2e", "e2e-pg"] if args.phase == "all" else [args.phase]
    # --engines picks the engines of single and bulk; e2e is SQLite's, e2e-pg PostgreSQL's.
    wants_pg = "e2e-pg" in phases or (
        "postgres" in engines and any(p in phases for p in ("single", "bulk"))
    )
    with ExitStack() as stack:
        stack.callback(ctx.cleanup)
        if wants_pg:
            if pg.available():
                note("starting a throwaway PostgreSQL (fsync on) ...")
                ctx.pg = stack.enter_context(pg.durable_postgres())
                results["meta"]["postgres"] = ctx.pg.version()
            else:
                note("PostgreSQL binaries not found: PostgreSQL phases skipped")
                ctx.engines = tuple(e for e in engines if e != "postgres")
                results["meta"]["postgres"] = "not found (set SMSGATE_TEST_PG_BIN)"
        _phases(ctx, phases, results)
    names = list(args.peers) or (["jasmin", "kannel"] if args.phase == "peers" else [])
    if names:
        results["peers"] = peers.run(args.anchors, names, quick=args.quick, logdir=ctx.logs)
        results["ratios"] = peers.ratios(
            results["peers"], _rows(results, "single"), _rows(results, "e2e", "e2e_pg")
        )
    results["meta"]["loadavg_end"] = loadavg()
    return results


def _rows(results: dict[str, Any], *keys: str) -> list[dict[str, Any]]:
    """The measured rows of these phases (a phase that failed holds a dict, not rows)."""
    return [row for key in keys if isinstance(results.get(key), list) for row in results[key]]


def _phases(ctx: Context, phases: list[str], results: dict[str, Any]) -> None:
    needs_wrk = {"single", "e2e", "e2e-pg"} & set(phases)
    if needs_wrk and not wrk.available():
        for phase in needs_wrk:
            results[phase.replace("-", "_")] = {
                "error": "wrk is not installed (apt-get install wrk)"
            }
        phases = [p for p in phases if p not in needs_wrk]
    if "single" in phases:
        _guard(results, "single", lambda: single.run(ctx))
    if "bulk" in phases:
        _guard(results, "bulk", lambda: bulk.run(ctx))
    if "e2e" in phases:
        _guard(results, "e2e", lambda: [e2e.run(ctx, "sqlite", 0)])
    if "e2e-pg" in phases:
        if ctx.pg is None:
            results["e2e_pg"] = {"skipped": "PostgreSQL binaries not found"}
        else:
            _guard(
                results, "e2e_pg", lambda: [e2e.run(ctx, "postgres", n) for n in ctx.sizes.workers]
            )


def failed(results: dict[str, Any]) -> list[str]:
    """Phases that errored and rows whose database check did not hold."""
    bad = []
    for key in ("single", "bulk", "e2e", "e2e_pg"):
        value = results.get(key)
        if isinstance(value, dict) and "error" in value:
            bad.append(f"{key}: {value['error']}")
        for row in value if isinstance(value, list) else []:
            if not row["check"]["ok"]:
                bad.append(f"{key}: check failed {row['check']}")
    return bad


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # Connector credentials are sealed with this key (in this process and every smsgate
    # process it starts); a throwaway key for throwaway databases.
    os.environ.setdefault("SMSGATE_SECRET_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
    if args.out is None:
        args.out = ROOT / "bench" / "results" / time.strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(args)
    text = report.table(results)
    report.write_json(args.out / "results.json", results)
    (args.out / "table.txt").write_text(text)
    report.plot(args.out / "results.png", results)
    print(text, end="")
    note(f"written: {args.out}/results.json, results.png, table.txt (logs in {args.out}/logs)")
    problems = failed(results)
    for problem in problems:
        note(f"FAILED {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
