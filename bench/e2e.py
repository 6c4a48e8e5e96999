"""Phases 3 and 4: end to end with delivery receipts, through SMPP to the anchors' sink.

wrk sends single messages (``POST /v1/messages``, 16 connections, as the peers' ``*_dlr3``
phase does) until the quota is accepted; the dispatcher submits them to
``smsc_sink.py --dlr``, which sends a ``DELIVRD`` receipt one second after each submit_sm,
and the run ends when every message is ``delivered`` in the database.

- SQLite: one ``smsgate serve`` (API, dispatcher and receipts in one process).
- PostgreSQL: ``smsgate serve --no-dispatch`` and N ``smsgate worker`` processes, each
  holding the lease of its own SMPP connector (see ``_start_workers``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import audit, world, wrk
from bench.context import Context
from bench.cpu import CpuMeter, usage
from bench.procs import (
    BenchError,
    Proc,
    Skipped,
    running,
    start_api,
    start_sink,
    start_worker,
    wait_until,
)
from bench.progress import Ticker, note
from smsgate.db import Database
from smsgate.dispatch import leases
from smsgate.kit.time import utcnow

# Long enough that a worker paused while the next one starts keeps its lease (see below).
LEASE_SECONDS = "60"


def run(ctx: Context, engine: str, workers: int) -> dict[str, Any]:
    """One end-to-end run; ``workers`` 0 means the dispatcher inside ``serve``."""
    sink_script = ctx.sink()
    if sink_script is None:
        raise Skipped(f"no SMPP sink: {ctx.anchors}/smsc_sink.py is missing (--anchors DIR)")
    url = ctx.database(engine, f"e2e_w{workers}")
    db, tenant = world.prepare(url)
    meter = CpuMeter()
    logs = ctx.logs_of(f"e2e-{engine}-w{workers}")
    try:
        with running() as started:
            sink, port, stats = start_sink(sink_script, logs, dlr=True)
            started.append(sink)
            meter.watch("sink", sink.pid)
            if engine == "postgres" and ctx.pg is not None:
                meter.watch("postgres", ctx.pg.postmaster_pid(), tree=True)
            if not workers:
                world.add_sink(db, "sink-1", port, window=ctx.window)
                world.route_all(db, ["sink-1"])
            api, base = start_api(url, logs, dispatch=not workers)
            started.append(api)
            meter.watch("smsgate", api.pid)
            held = (
                _start_workers(ctx, db, url, port, workers, started, meter, logs)
                if workers
                else {"sink-1": "smsgate"}
            )
            _wait_binds(sink, stats, len(held))
            result = _drive(ctx, db, tenant, base, meter, stats)
            sink.stop()  # it writes its final counters on the way out
            sink_counts = json.loads(stats.read_text())
    finally:
        db.dispose()
    return {
        "engine": engine,
        "workers": workers if workers else "in-process",
        "connectors": held,
        **_figures(result, sink_counts),
        "check": result["check"],
    }


def _start_workers(
    ctx: Context,
    db: Database,
    url: str,
    port: int,
    count: int,
    started: list[Proc],
    meter: CpuMeter,
    logs: Path,
) -> dict[str, str]:
    """One SMPP connector per worker, each held by its own worker.

    A worker takes every expired connector lease at its refresh, so the first one up would
    hold them all and the others would only hand messages back. The connectors are added
    one at a time instead, each while the workers already running are paused (SIGSTOP) so
    that only the new worker can take the new lease; their own leases outlast the pause.
    """
    env = {"SMSGATE_CONNECTOR_LEASE_SECONDS": LEASE_SECONDS}
    names = [f"sink-{i}" for i in range(1, count + 1)]
    # The route names every connector from the start: a worker routes only to those it holds.
    world.route_all(db, names)
    procs: list[Proc] = []
    for index, name in enumerate(names, start=1):
        for earlier in procs:
            earlier.pause()
        try:
            world.add_sink(db, name, port, window=ctx.window)
            proc = start_worker(url, logs, index, env)
            started.append(proc)
            wait_until(proc, _holds(db, name, proc.pid), f"no lease on {name}")
        finally:
            for earlier in procs:
                earlier.resume()
        procs.append(proc)
        meter.watch(proc.name, proc.pid)
    held = {name: _holder(db, name) for name in names}
    expected = {name: proc.pid for name, proc in zip(names, procs, strict=True)}
    if held != expected:
        raise BenchError(f"connector leases moved while starting: {held} != {expected}")
    return {name: proc.name for name, proc in zip(names, procs, strict=True)}


def _holds(db: Database, connector: str, pid: int) -> Callable[[], bool]:
    return lambda: _holder(db, connector) == pid


def _holder(db: Database, connector: str) -> int | None:
    with db.read() as session:
        owner = leases.holders(session, utcnow()).get(connector)
    return int(owner.split(":")[1]) if owner else None  # owner is host:pid:id


def _sink_counts(stats: Path) -> dict[str, Any]:
    try:
        counts: dict[str, Any] = json.loads(stats.read_text())
        return counts
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _wait_binds(sink: Proc, stats: Path, binds: int) -> None:
    wait_until(sink, lambda: _sink_counts(stats).get("binds", 0) >= binds, "no SMPP bind", 30)


def _drive(
    ctx: Context, db: Database, tenant: world.Tenant, base: str, meter: CpuMeter, stats: Path
) -> dict[str, Any]:
    quota, connections = ctx.sizes.e2e_messages, ctx.sizes.e2e_connections
    lua = wrk.script(ctx.scratch / "e2e.lua", wrk.ENDPOINTS[0], tenant.token, quota=True)
    since = audit.mark(db)
    ticker = Ticker(f"e2e {quota:,} messages")
    first_request = time.time()
    load = wrk.start(
        base + wrk.ENDPOINTS[0].path,
        lua,
        connections=connections,
        seconds=max(60, quota / 20),
        meter=meter,
        quota=quota,
    )
    whole_before = load.before
    while not load.exited():
        accepted = audit.count_since(db, since)
        if accepted >= quota:
            load.interrupt()  # the quota is in; wrk's threads may not all have seen it
        submitted = _sink_counts(stats).get("submit_sm", 0)
        ticker.update(f"accepted {accepted:,}/{quota:,}, submit_sm {submitted:,}")
        time.sleep(0.5)
    figures = load.finish(timeout=60)
    delivered = _wait_delivered(db, since, stats, ticker, ctx.sizes.stall)
    whole = usage(whole_before, meter.snapshot())
    check = audit.check(
        db, tenant.account_id, since, accepted=figures["accepted"], in_flight=connections
    )
    check |= {"all_delivered": delivered, "ok": check["ok"] and delivered}
    return {
        "first_request": first_request,
        "load": figures,
        "whole": whole,
        "times": audit.times_since(db, since),
        "statuses": audit.statuses_since(db, since),
        "check": check,
    }


def _wait_delivered(
    db: Database, since: audit.Mark, stats: Path, ticker: Ticker, stall: float
) -> bool:
    """Until every message of the run is delivered, or nothing has moved for ``stall`` s."""
    last, moved = -1, time.monotonic()
    while time.monotonic() - moved < stall:
        statuses = audit.statuses_since(db, since)
        total, delivered = sum(statuses.values()), statuses.get("delivered", 0)
        if delivered == total:
            ticker.done(f"all {total:,} delivered")
            return True
        if delivered != last:
            last, moved = delivered, time.monotonic()
        receipts = _sink_counts(stats).get("deliver_sm_sent", 0)
        ticker.update(f"delivered {delivered:,}/{total:,}, receipts sent {receipts:,}")
        time.sleep(1)
    note(f"e2e: stopped waiting, statuses {audit.statuses_since(db, since)}")
    return False


def _seconds(moment: datetime | None) -> float:
    if moment is None:
        return float("nan")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _figures(result: dict[str, Any], sink: dict[str, Any]) -> dict[str, Any]:
    load, times = result["load"], result["times"]
    start = result["first_request"]
    messages = result["check"]["messages"]
    delivered = result["statuses"].get("delivered", 0)
    submits = int(sink.get("submit_sm", 0))
    first_submit, last_submit = sink.get("first_submit_ts"), sink.get("last_submit_ts")
    first_done, last_done = _seconds(times["first_done"]), _seconds(times["last_done"])
    to_last_delivered = last_done - start
    return {
        "messages": messages,
        "accepted_per_s": load["accepted_per_s"],
        "p99_ms": load["p99_ms"],
        "submit_sm": submits,
        "submit_sm_per_s": _rate(submits, first_submit, last_submit),
        "receipts_sent": sink.get("deliver_sm_sent", 0),
        "receipts_acked": sink.get("deliver_sm_resp", 0),
        "receipts_per_s": _rate(delivered, first_done, last_done),
        "seconds_to_last_delivered": round(to_last_delivered, 2),
        "delivered_per_s_end_to_end": round(delivered / to_last_delivered, 1),
        # what the anchors' measure.py calls end_to_end_submit_sm_per_s_incl_drain
        "submit_sm_per_s_end_to_end": _rate(submits, start, last_submit),
        "statuses": result["statuses"],
        "load": {k: load[k] for k in ("cpu_pct_of_one_core", "machine_busy_pct", "loadavg")},
        **result["whole"],
    }


def _rate(count: int, first: float | None, last: float | None) -> float:
    if first is None or last is None or last <= first:
        return 0.0
    return round(count / (last - first), 1)
