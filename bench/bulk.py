"""Phase 2: one sending of many recipients, through ``POST /v1/sendings``.

A fresh ``smsgate serve --no-dispatch`` per size, so that its memory high-water mark
(``VmHWM``) belongs to that one request: the figure is the seconds from sending the request
until the answer, which comes after every recipient is resolved, priced, charged (one
ledger entry) and queued in one transaction.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import msgspec

from bench import audit, world
from bench.context import Context
from bench.cpu import CpuMeter, usage
from bench.procs import BenchError, memory_mb, running, start_api
from bench.progress import Ticker, note


def run(ctx: Context) -> list[dict[str, Any]]:
    return [_one(ctx, engine, n) for engine in ctx.engines for n in ctx.sizes.bulk]


def _post(base: str, token: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/sendings",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=1800,
    )


def _one(ctx: Context, engine: str, recipients: int) -> dict[str, Any]:
    note(f"bulk {engine} {recipients:,}: preparing the recipients and a fresh database")
    body = msgspec.json.encode(
        {"recipients": world.numbers(recipients), "text": world.TEXT, "sender": world.SENDER}
    )
    url = ctx.database(engine, f"bulk{recipients}")
    db, tenant = world.prepare(url)
    meter = CpuMeter()
    try:
        with running() as started:
            api, base = start_api(url, ctx.logs_of(f"bulk-{engine}-{recipients}"), dispatch=False)
            started.append(api)
            meter.watch("smsgate", api.pid)
            if engine == "postgres" and ctx.pg is not None:
                meter.watch("postgres", ctx.pg.postmaster_pid(), tree=True)
            before_mb = memory_mb(api.pid)["VmRSS"]
            since = audit.mark(db)
            ticker = Ticker(f"bulk {engine} {recipients:,} recipients")
            first = meter.snapshot()
            started_at = time.perf_counter()
            with ThreadPoolExecutor(1) as pool:
                answer = pool.submit(_post, base, tenant.token, body)
                while not answer.done():
                    rss = memory_mb(api.pid)["VmRSS"]
                    ticker.update(f"waiting for the answer; smsgate RSS {rss:,.0f} MB")
                    time.sleep(0.2)
                response = answer.result()
            seconds = time.perf_counter() - started_at
            cpu = usage(first, meter.snapshot())
            peak_mb = memory_mb(api.pid)["VmHWM"]
            if response.status_code != 201:
                raise BenchError(
                    f"POST /v1/sendings answered {response.status_code}: {response.text[:500]}"
                )
            ticker.done(f"{seconds:.1f} s, peak RSS {peak_mb:,.0f} MB")
            check = audit.check(db, tenant.account_id, since, accepted=recipients, charge_entries=1)
            queued = audit.statuses_since(db, since) == {"queued": recipients}
            check |= {"all_queued": queued, "ok": check["ok"] and queued}
    finally:
        db.dispose()
    return {
        "engine": engine,
        "recipients": recipients,
        "body_mb": round(len(body) / 1e6, 1),
        "seconds": round(seconds, 2),
        "recipients_per_s": round(recipients / seconds),
        "rss_before_mb": before_mb,
        "peak_rss_mb": peak_mb,
        **cpu,
        "check": check,
    }
