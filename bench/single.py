"""Phase 1: single sends over HTTP, accepted requests a second and latency.

``smsgate serve`` (API and dispatcher in one process, as deployed on SQLite) on a fresh
database; its dispatcher sends to the anchors' SMPP sink without receipts, as the peers'
``*_nodlr`` phases do (to the built-in simulator when the sink is absent). wrk drives
``POST /v1/messages`` and ``POST /api/send_sms.php`` at each connection count; after each
load the database must hold every accepted message, priced and charged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench import audit, world, wrk
from bench.context import Context
from bench.cpu import CpuMeter
from bench.procs import running, start_api, start_sink
from bench.progress import Ticker, note
from smsgate.db import Database


def run(ctx: Context) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for engine in ctx.engines:
        rows += _engine(ctx, engine)
    return rows


def _engine(ctx: Context, engine: str) -> list[dict[str, Any]]:
    url = ctx.database(engine, "single")
    db, warmup = world.prepare(url)
    meter = CpuMeter()
    logs = ctx.logs_of(f"single-{engine}")
    rows: list[dict[str, Any]] = []
    try:
        with running() as started:
            connector = "simulator"
            sink_script = ctx.sink()
            if sink_script is not None and ctx.dispatch:
                sink, port, _ = start_sink(sink_script, logs, dlr=False)
                started.append(sink)
                meter.watch("sink", sink.pid)
                world.add_sink(db, "sink-1", port, window=ctx.window)
                world.route_all(db, ["sink-1"])
                connector = "smpp"
            api, base = start_api(url, logs, dispatch=ctx.dispatch, workers=ctx.api_workers)
            started.append(api)
            meter.watch("smsgate", api.pid, tree=ctx.api_workers > 1)
            if engine == "postgres" and ctx.pg is not None:
                meter.watch("postgres", ctx.pg.postmaster_pid(), tree=True)
            load = _Load(ctx, db, base, meter)
            if ctx.sizes.warmup:
                note(f"single {engine}: warm-up, {ctx.sizes.warmup:.0f} s (not recorded)")
                load.run(wrk.ENDPOINTS[0], 16, warmup, ctx.sizes.warmup)
            for ep in wrk.ENDPOINTS:
                for connections in ctx.sizes.connections:
                    # each load its own customer: stragglers of the one before stay apart
                    tenant = world.tenant(db, f"{ep.name} c={connections}")
                    figures = load.run(ep, connections, tenant, ctx.sizes.seconds)
                    check = audit.check(
                        db,
                        tenant.account_id,
                        audit.Mark(0, 0),
                        accepted=figures["accepted"],
                        in_flight=connections,
                    )
                    rows.append(
                        {
                            "engine": engine,
                            "endpoint": ep.path,
                            "dispatch": ctx.dispatch,
                            "connector": connector,
                            **figures,
                            "check": check,
                        }
                    )
                    _report(rows[-1])
    finally:
        db.dispose()
    return rows


@dataclass(frozen=True, slots=True)
class _Load:
    ctx: Context
    db: Database
    base: str
    meter: CpuMeter

    def run(
        self, ep: wrk.Endpoint, connections: int, tenant: world.Tenant, seconds: float
    ) -> dict[str, Any]:
        """One wrk load as ``tenant``; returns once the requests left in flight are in."""
        lua = wrk.script(self.ctx.scratch / f"{ep.name}.lua", ep, tenant.token)
        ticker = Ticker(f"single {ep.path} c={connections}")
        since = audit.mark(self.db)
        figures = wrk.run(
            self.base + ep.path,
            lua,
            connections=connections,
            seconds=seconds,
            meter=self.meter,
            threads=min(self.ctx.wrk_threads, connections),
            tick=lambda t: ticker.update(f"{t:.0f} of {seconds:.0f} s"),
        )
        _settle(self.db, since)
        ticker.done(f"{figures['accepted_per_s']:,.0f} accepted/s")
        return figures


def _settle(db: Database, since: audit.Mark, timeout: float = 10) -> None:
    """Wait until the count of messages has not moved for a second (what wrk left in
    flight is committed), so that the next load starts on a quiet server."""
    last, still, deadline = -1, 0, time.monotonic() + timeout
    while time.monotonic() < deadline and still < 4:
        now = audit.count_since(db, since)
        still = still + 1 if now == last else 0
        last = now
        time.sleep(0.25)


def _report(row: dict[str, Any]) -> None:
    check = row["check"]
    verdict = "ok" if check["ok"] else f"MISMATCH {check}"
    note(
        f"  {row['engine']} {row['endpoint']} c={row['connections']}: "
        f"{row['accepted_per_s']:,.0f}/s p50 {row['p50_ms']:.2f} ms p99 {row['p99_ms']:.2f} ms, "
        f"non-2xx {row['non_2xx']}, durable and charged: {verdict}"
    )
