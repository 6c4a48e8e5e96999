"""SmppConnector against an SMPP server written by someone else: the benchmark sink in
/work/shared/anchors (skipped where it is not installed)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsgate.connectors.base import Outcome
from smsgate.connectors.smpp import SmppConnector
from smsgate.messaging.status import MessageStatus
from tests.connectors.test_smpp_client import Sink, message, run, until

SINK = Path("/work/shared/anchors/smsc_sink.py")
pytestmark = pytest.mark.skipif(not SINK.exists(), reason="the anchors' SMPP sink is not here")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SinkServer:
    def __init__(self, tmp_path: Path) -> None:
        self.port, self.stats = free_port(), tmp_path / "stats.json"
        command = [sys.executable, str(SINK), "--port", str(self.port), "--dlr"]
        command += ["--dlr-delay", "0.2", "--stats", str(self.stats)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None
        assert b"listening" in self.proc.stdout.readline()

    def stop(self) -> dict[str, int]:
        """Stop the sink; its counters as it wrote them on the way out."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        counters: dict[str, int] = json.loads(self.stats.read_text())
        return counters


@pytest.fixture
def sink_server(tmp_path: Path) -> Iterator[SinkServer]:
    server = SinkServer(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("bind_mode", ["transceiver", "transmitter_receiver"])
def test_500_messages_and_their_receipts(sink_server: SinkServer, bind_mode: str) -> None:
    async def scenario() -> None:
        conn = SmppConnector(
            "sink", "127.0.0.1", sink_server.port, "smsgate", "pw", window=50, bind_mode=bind_mode
        )
        sink = Sink()
        await conn.start(sink)
        try:
            await until(lambda: all(s.bound for s in conn.sessions))
            results = await conn.submit([message(n, f"message {n}") for n in range(500)])
            assert {r.outcome for r in results} == {Outcome.SUBMITTED}
            sent = sorted(uid for r in results for uid in r.upstream_ids)
            assert len(set(sent)) == 500
            receipts = await sink.wait(500, timeout=10)
            await asyncio.sleep(0.1)
            assert sorted(r.upstream_id for r in receipts) == sent
            assert {r.status for r in receipts} == {MessageStatus.DELIVERED}
        finally:
            await conn.stop()

    run(scenario())
    counters = sink_server.stop()
    assert counters["submit_sm"] == counters["submit_sm_with_dlr_request"] == 500
    assert counters["deliver_sm_sent"] == counters["deliver_sm_resp"] == 500


def test_the_client_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """bench/smpp_client.py (docs/benchmarks.md, "SMPP end to end") cannot rot."""
    from bench import smpp_client

    args = ["--messages", "300", "--batch", "50", "--rate", "0", "--dlr-delay", "0.1"]
    assert smpp_client.main([*args, "--rounds", "1", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    result = json.loads(next(line for line in lines if line.startswith("{")))
    assert result["receipts"] == 300
    assert result["cpu_us_per_message"] > 0
    assert result["submit_sm_per_s"] > 0
