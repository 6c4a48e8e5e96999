"""The SMPP client's own CPU per message, against the anchors' sink with receipts.

    .venv/bin/python -m bench.smpp_client [--messages 20000] [--rate 700] [--window 10]

Starts ``smsc_sink.py --dlr`` (a ``DELIVRD`` receipt ``--dlr-delay`` seconds after each
submit_sm) on a free loopback port and drives ``SmppConnector`` directly, in this process,
as the dispatcher does: ``submit(batch)`` awaited one batch after the other, batches of
``--batch`` messages started ``--rate`` messages a second (0: each batch as soon as the last
one is answered), and a receipt sink that awaits ``--commit-ms`` (the commit) before it
returns, after which the connector answers the deliver_sm. One transceiver bind.

Reported per run: submit_sm/s (first to last submit answered), receipts/s (first to last
receipt handed over), and the CPU of this process (``time.process_time``: user + system,
every thread) from the first submit to the last receipt, in µs per message. That is the
connector's event-loop cost plus this script's small share (building the messages, the
sink's counter) and the loop's own; with ``--rounds`` the median and range. The garbage
collector is frozen after the imports, as in ``smsgate serve`` (``app.freeze_long_lived``). The load
average is printed beside it: on a shared machine compare A/B back to back.

``--profile FILE`` writes a pyinstrument profile (text) of one more run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt
from smsgate.connectors.smpp import SmppConnector

SINK = Path("/work/shared/anchors/smsc_sink.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class _Sink:
    """The dispatcher's side of the receipts: counts them, 'commits' for a while."""

    def __init__(self, commit: float) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.commit = commit
        self.done = asyncio.Event()
        self.expected = 0

    async def __call__(self, batch: Sequence[Receipt]) -> None:
        if self.commit > 0:
            await asyncio.sleep(self.commit)
        now = time.perf_counter()
        if not self.count:
            self.first = now
        self.count += len(batch)
        self.last = now
        if self.count >= self.expected:
            self.done.set()


def _messages(start: int, count: int) -> list[OutboundMessage]:
    return [
        OutboundMessage(n, f"3712{n % 10_000_000:07d}", "smsgate", f"message {n}", 1, "gsm7")
        for n in range(start, start + count)
    ]


async def _run(port: int, args: argparse.Namespace) -> dict[str, Any]:
    sink = _Sink(args.commit_ms / 1000)
    sink.expected = args.messages
    conn = SmppConnector("bench", "127.0.0.1", port, "bench", "pw", window=args.window)
    await conn.start(sink)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not all(s.bound for s in conn.sessions):
            if loop.time() > deadline:
                raise RuntimeError("the sink did not bind")
            await asyncio.sleep(0.01)
        batches = [
            _messages(i, min(args.batch, args.messages - i))
            for i in range(0, args.messages, args.batch)
        ]
        cpu0 = time.process_time()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        submitted = 0
        for n, batch in enumerate(batches):
            if args.rate:
                wait = t0 + n * args.batch / args.rate - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            results = await conn.submit(batch)
            submitted += sum(r.outcome is Outcome.SUBMITTED for r in results)
        t_submitted = time.perf_counter()
        if submitted != args.messages:
            raise RuntimeError(f"only {submitted} of {args.messages} submitted")
        await asyncio.wait_for(sink.done.wait(), 30 + args.messages / 500)
        cpu = time.process_time() - cpu0
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        receipts_span = sink.last - sink.first
        receipt_ids = conn.health()["receipt_ids"]
    finally:
        await conn.stop()
    return {
        "submit_sm_per_s": args.messages / (t_submitted - t0),
        "receipts_per_s": sink.count / receipts_span if receipts_span > 0 else 0.0,
        "cpu_us_per_message": cpu / args.messages * 1e6,
        "cpu_s": cpu,
        "user_us_per_message": (usage1.ru_utime - usage0.ru_utime) / args.messages * 1e6,
        "system_us_per_message": (usage1.ru_stime - usage0.ru_stime) / args.messages * 1e6,
        "receipts": sink.count,
        "receipt_ids": receipt_ids,
    }


def _sink_process(port: int, stats: Path, dlr_delay: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(SINK), "--port", str(port), "--dlr"]
    command += ["--dlr-delay", str(dlr_delay), "--stats", str(stats)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    if b"listening" not in proc.stdout.readline():
        raise RuntimeError("the sink did not start")
    return proc


def one_run(args: argparse.Namespace, profile: Path | None = None) -> dict[str, Any]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        proc = _sink_process(port, stats, args.dlr_delay)
        try:
            if profile is None:
                result = asyncio.run(_run(port, args))
            else:
                # optional: pyinstrument is not among smsgate's dependencies
                profiler = importlib.import_module("pyinstrument").Profiler(
                    interval=0.0005, async_mode="disabled"
                )
                profiler.start()
                result = asyncio.run(_run(port, args))
                profiler.stop()
                profile.write_text(profiler.output_text(unicode=True, show_all=False))
        finally:
            proc.terminate()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
        counters = json.loads(stats.read_text())
    if counters["deliver_sm_resp"] != args.messages or counters["submit_sm"] != args.messages:
        raise RuntimeError(f"the sink counted {counters}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="messages per submit()")
    parser.add_argument("--rate", type=float, default=700.0, help="messages a second; 0: flat out")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--dlr-delay", type=float, default=1.0)
    parser.add_argument("--commit-ms", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile of one run")
    parser.add_argument("--json", action="store_true", help="one JSON line per run as well")
    args = parser.parse_args(argv)
    if not SINK.exists():
        print(f"no sink at {SINK}", file=sys.stderr)
        return 2
    print(
        f"messages {args.messages}, batch {args.batch}, rate {args.rate or 'flat out'}, "
        f"window {args.window}, pid {os.getpid()}",
        file=sys.stderr,
    )
    runs = []
    for _ in range(args.rounds):
        before = _loadavg()
        result = one_run(args)
        result["loadavg"] = [before, _loadavg()]
        runs.append(result)
        print(
            f"submit_sm/s {result['submit_sm_per_s']:8.0f}  receipts/s "
            f"{result['receipts_per_s']:8.0f}  CPU µs/message {result['cpu_us_per_message']:6.1f}"
            f" (user {result['user_us_per_message']:.0f},"
            f" system {result['system_us_per_message']:.0f})"
            f"  load {before} -> {result['loadavg'][1]}"
        )
        if args.json:
            print(json.dumps(result))
    if len(runs) > 1:
        cpu = [r["cpu_us_per_message"] for r in runs]
        print(f"median CPU µs/message {statistics.median(cpu):.1f} ({min(cpu):.1f}-{max(cpu):.1f})")
    if args.profile is not None:
        one_run(args, args.profile)
        print(f"profile written to {args.profile}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    # As `smsgate serve` and `smsgate worker` do once started (app.freeze_long_lived): the
    # cyclic collector's full collections no longer walk the modules and their tables. Not in
    # main(): a test process must not freeze what it builds.
    gc.collect()
    gc.freeze()
    raise SystemExit(main())
