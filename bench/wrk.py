"""wrk (the Debian package) as the load generator, with a Lua script that POSTs sends.

Each request carries another destination number (as the anchors' scripts do for the peers),
so nothing downstream can cache one answer. The script's ``done`` prints one machine-read
line with exact figures (latency percentiles in microseconds) instead of wrk's rounded text.
In quota mode each thread stops once its share of 2xx answers has come back.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cpu import CpuMeter, Snapshot, usage
from bench.procs import BenchError

MARK = "BENCH-WRK "


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    path: str
    body: str  # Lua format string; %s is the destination number


ENDPOINTS = (
    Endpoint(
        "native",
        "/v1/messages",
        '{"to": "+%s", "text": "Benchmark message hello", "sender": "BENCH"}',
    ),
    Endpoint(
        "devsms",
        "/api/send_sms.php",
        '{"phone": "%s", "message": "Benchmark message hello", "from": "BENCH"}',
    ),
)

_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local body = '{body}'
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
local quota = 0
local ok = 0
function init(args)
  quota = tonumber(args[1]) or 0
  n = (tid or 0) * 1000003
end
request = function()
  n = n + 1
  -- Latvian mobile numbers +371 24xxxxxx..29xxxxxx: all in ranges in use
  local number = string.format("3712%d%06d", 4 + math.floor(n / 1000000) % 6, n % 1000000)
  return wrk.format(nil, "{path}", nil, string.format(body, number))
end
{response}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{mark}{{"requests": %d, "duration_us": %d, "non_2xx": %d, "connect_errors": %d, '
    .. '"read_errors": %d, "write_errors": %d, "timeouts": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
# Defined only in quota mode: wrk skips parsing answers when no script reads them.
_QUOTA = """
response = function(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 end
  if quota > 0 and ok >= quota then wrk.thread:stop() end
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).split(" [", 1)[0].strip()


def script(path: Path, endpoint: Endpoint, token: str, *, quota: bool = False) -> Path:
    text = _LUA.format(
        token=token,
        body=endpoint.body,
        path=endpoint.path,
        mark=MARK,
        response=_QUOTA if quota else "",
    )
    path.write_text(text)
    return path


@dataclass
class WrkRun:
    """A running wrk; ``finish`` waits for it and returns its figures and CPU use."""

    popen: subprocess.Popen[str]
    meter: CpuMeter
    connections: int
    before: Snapshot

    def exited(self) -> bool:
        # Looks without reaping: until it is reaped, wrk's CPU time stays readable in /proc.
        try:
            info = os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        except ChildProcessError:
            return True
        return info is not None

    def interrupt(self) -> None:
        # On SIGINT wrk ends its run early and still prints its summary.
        if not self.exited():
            self.popen.send_signal(signal.SIGINT)

    def finish(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                self.popen.kill()
                self.popen.communicate()
                raise BenchError(f"wrk did not end within {timeout:.0f} s")
            time.sleep(0.05)
        after = self.meter.snapshot()
        out, _ = self.popen.communicate(timeout=30)
        self.meter.forget("wrk")
        return _parse(out, self.connections) | usage(self.before, after)


def start(
    url: str,
    lua: Path,
    *,
    connections: int,
    seconds: float,
    meter: CpuMeter,
    threads: int = 1,
    quota: int = 0,
) -> WrkRun:
    """Start wrk against ``url``; with ``quota`` it stops after that many 2xx answers."""
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
    args += ["--timeout", "10s", "-s", str(lua), url]
    if quota:
        args += ["--", str(-(-quota // threads))]  # each thread's share, rounded up
    popen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    meter.watch("wrk", popen.pid)
    return WrkRun(popen, meter, connections, meter.snapshot())


def run(
    url: str,
    lua: Path,
    *,
    connections: int,
    seconds: float,
    meter: CpuMeter,
    threads: int = 1,
    tick: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """One timed load: wrk's figures plus the CPU use of every watched process."""
    wrk = start(url, lua, connections=connections, seconds=seconds, meter=meter, threads=threads)
    started = time.monotonic()
    while not wrk.exited() and time.monotonic() - started < seconds + 30:
        if tick is not None:
            tick(time.monotonic() - started)
        time.sleep(0.1)
    return wrk.finish(timeout=30)


def _parse(out: str, connections: int) -> dict[str, Any]:
    line = next((x for x in out.splitlines() if x.startswith(MARK)), None)
    if line is None:
        raise BenchError(f"wrk printed no summary:\n{out[-2000:]}")
    raw = json.loads(line[len(MARK) :])
    seconds = raw["duration_us"] / 1e6
    accepted = raw["requests"] - raw["non_2xx"]
    return {
        "connections": connections,
        "seconds": round(seconds, 2),
        "requests": raw["requests"],
        "accepted": accepted,
        "non_2xx": raw["non_2xx"],
        "socket_errors": sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors")),
        "timeouts": raw["timeouts"],
        "accepted_per_s": round(accepted / seconds, 1) if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
    }
