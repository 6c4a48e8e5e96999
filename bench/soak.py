"""A soak: steady traffic on every surface for a long time; memory, latency and queues watched.

    python -m bench.soak [--minutes 30] [--rate 50] [--report-every 60] [--database-url URL]

Starts ``smsgate serve`` (API, dispatcher and simulator in one process) on a fresh SQLite
file, or on ``--database-url``, and sends a fixed mix at a fixed rate: single sends on the
native, devsms.uz and sms.by surfaces, scheduled messages and scheduled sendings that are
cancelled a moment later, and reads (history, balance). Every ``--report-every`` seconds it
prints one JSON line: requests, errors, p50/p99 latency of the interval, the server's
resident memory and the messages not yet final. At the end it waits for the queue to drain
and prints a summary; it exits 1 on any 5xx answer, an undrained queue, or memory or p99 that
grew by more than half from the first interval to the last.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from smsgate.db import Database
from smsgate.messaging.models import Message
from smsgate.messaging.status import FINAL, MessageStatus

NUMBER = "+37126123456"
SENDER = "smsgate"


@dataclass
class Interval:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    server_errors: int = 0


def start(url: str, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "SMSGATE_DATABASE_URL": url,
        "SMSGATE_LOG_LEVEL": "warning",
        "SMSGATE_DEMO_BALANCE": "1000000000",
        "SMSGATE_SIMULATOR_DELAY": "0.2",
    }
    args = [str(Path(sys.executable).with_name("smsgate")), "serve", "--port", str(port)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    token = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"(sg_[A-Za-z0-9_\-]+)", line)
        token = found.group(1) if found else token
        if line.startswith("smsgate on"):
            break
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/status", timeout=1)
            return proc, token
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("smsgate did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pending(db: Database) -> int:
    """Messages neither final nor waiting for their schedule."""
    waiting = [*FINAL, MessageStatus.SCHEDULED]
    with db.read() as session:
        return int(session.scalar(select(func.count()).where(Message.status.not_in(waiting))) or 0)


def operations(client: httpx.AsyncClient) -> list[Callable[[], Awaitable[httpx.Response]]]:
    """The mix, one entry per share of ten."""
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    async def native() -> httpx.Response:
        body = {"to": NUMBER, "text": "soak", "sender": SENDER}
        return await client.post("/v1/messages", json=body)

    async def devsms() -> httpx.Response:
        body = {"phone": NUMBER[1:], "message": "soak", "from": SENDER}
        return await client.post("/api/send_sms.php", json=body)

    async def smsby() -> httpx.Response:
        return await client.post("/api/v1/sendQuickSMS", json={"message": "soak", "phone": NUMBER})

    async def scheduled_message_cancelled() -> httpx.Response:
        body = {"to": NUMBER, "text": "soak later", "sender": SENDER, "scheduled_at": later}
        sent = await client.post("/v1/messages", json=body)
        if sent.status_code != 200:
            return sent
        return await client.post(f"/v1/messages/{sent.json()['messages'][0]['id']}/cancel")

    async def scheduled_sending_cancelled() -> httpx.Response:
        recipients = [f"+3712612{n:04d}" for n in range(5)]
        body = {"recipients": recipients, "text": "soak", "sender": SENDER, "scheduled_at": later}
        sent = await client.post("/v1/sendings", json=body)
        if sent.status_code not in (200, 201, 202):
            return sent
        return await client.post(f"/v1/sendings/{sent.json()['id']}/cancel")

    async def history() -> httpx.Response:
        return await client.get("/v1/messages", params={"limit": 20})

    async def balance() -> httpx.Response:
        return await client.get("/api/get_balance.php")

    mix: list[Callable[[], Awaitable[httpx.Response]]] = [native, native, native, devsms]
    mix += [devsms, smsby, scheduled_message_cancelled, scheduled_sending_cancelled]
    mix += [history, balance]
    return mix


async def traffic(
    base: str,
    token: str,
    rate: float,
    seconds: float,
    report: Callable[[Interval], None],
    every: float,
    workers: int = 32,
) -> None:
    """Requests at a fixed rate, each timed from the moment it was due.

    A fixed set of ``workers`` takes the requests in turn, each on its own connection, so the
    client never queues inside httpx's pool: with a task per request, a busy machine let
    requests pile up in the pool, whose bookkeeping grows with its waiters, and the client
    itself became the bottleneck (latency in seconds while the server answered in
    milliseconds). Timing from the due moment still counts a server that falls behind."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
        mix = itertools.cycle(operations(client))
        box = [Interval()]
        due_queue: asyncio.Queue[tuple[float, Callable[[], Awaitable[httpx.Response]]] | None]
        due_queue = asyncio.Queue()

        async def worker() -> None:
            while (item := await due_queue.get()) is not None:
                due, op = item
                interval = box[0]
                try:
                    answer = await op()
                except httpx.HTTPError:
                    interval.errors += 1
                    continue
                interval.latencies.append((time.monotonic() - due) * 1000)
                if answer.status_code >= 500:
                    interval.server_errors += 1
                elif answer.status_code >= 400:
                    interval.errors += 1

        pool = [asyncio.create_task(worker()) for _ in range(workers)]
        begun = time.monotonic()
        next_report = begun + every
        for n in itertools.count():
            due = begun + n / rate
            if due - begun >= seconds:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due_queue.put_nowait((due, next(mix)))
            if time.monotonic() >= next_report:
                report(box[0])
                box[0], next_report = Interval(), next_report + every
        for _ in pool:
            due_queue.put_nowait(None)
        await asyncio.gather(*pool)
        report(box[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=50, help="requests a second")
    parser.add_argument("--report-every", type=float, default=60, help="seconds")
    parser.add_argument("--database-url")
    parser.add_argument("--port", type=int, default=8798)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-soak-"))
    url = args.database_url or f"sqlite:///{workdir / 'soak.db'}"
    proc, token = start(url, args.port)
    db = Database(url)
    lines: list[dict[str, float]] = []
    begun = time.monotonic()

    def report(box: Interval) -> None:
        lat = sorted(box.latencies) or [float("nan")]
        line = {
            "elapsed_s": round(time.monotonic() - begun, 1),
            "requests": len(box.latencies) + box.errors,
            "errors_4xx_or_transport": box.errors,
            "errors_5xx": box.server_errors,
            "p50_ms": round(statistics.median(lat), 1),
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
            "rss_mb": round(rss_mb(proc.pid), 1),
            "pending": pending(db),
        }
        lines.append(line)
        print(json.dumps(line), flush=True)

    try:
        asyncio.run(
            traffic(
                f"http://127.0.0.1:{args.port}",
                token,
                args.rate,
                args.minutes * 60,
                report,
                args.report_every,
            )
        )
        deadline = time.monotonic() + 120
        while (left := pending(db)) and time.monotonic() < deadline:
            time.sleep(1)
        summary = verdict(lines, left)
        print(json.dumps(summary), flush=True)
    finally:
        db.dispose()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    sys.exit(0 if summary["ok"] else 1)


def verdict(lines: list[dict[str, float]], left: int) -> dict[str, object]:
    first, last = lines[0], lines[-1]
    grew = last["rss_mb"] > first["rss_mb"] * 1.5
    slower = last["p99_ms"] > max(first["p99_ms"] * 1.5, first["p99_ms"] + 50)
    server_errors = sum(line["errors_5xx"] for line in lines)
    return {
        "summary": True,
        "requests": sum(line["requests"] for line in lines),
        "errors_5xx": server_errors,
        "rss_mb_first_last": [first["rss_mb"], last["rss_mb"]],
        "p99_ms_first_last": [first["p99_ms"], last["p99_ms"]],
        "undrained": left,
        "ok": not (grew or slower or server_errors or left),
    }


if __name__ == "__main__":
    main()
