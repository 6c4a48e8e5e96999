"""Single sends over HTTP: accepted requests a second and latency, measured with wrk.

    python -m bench.single_send [--connections 1,16,64] [--seconds 10] [--no-dispatch]

Starts ``smsgate serve`` on a fresh SQLite file (or ``--database-url``), takes the demo
token, drives ``POST /v1/messages`` with wrk and prints one line per connection count.
Every accepted request is a durable, charged message. Needs wrk (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

LUA = """wrk.method = "POST"
wrk.body = '{"to": "+37126123456", "text": "benchmark message", "sender": "smsgate"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def start(url: str, port: int, dispatch: bool) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "SMSGATE_DATABASE_URL": url,
        "SMSGATE_LOG_LEVEL": "warning",
        "SMSGATE_DEMO_BALANCE": "1000000000",
    }
    args = [str(Path(sys.executable).with_name("smsgate")), "serve", "--port", str(port)]
    if not dispatch:
        args.append("--no-dispatch")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    token = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"(sg_[A-Za-z0-9_\-]+)", line)
        if found:
            token = found.group(1)
        if line.startswith("smsgate on"):
            break
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/status", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, token


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(2, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(label: str) -> float:
        found = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "connections": connections,
        "requests_per_s": float(rate.group(1)) if rate else 0.0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--database-url")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--no-dispatch", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    proc, token = start(url, args.port, not args.no_dispatch)
    script = workdir / "post.lua"
    script.write_text(LUA % token)
    try:
        for n in (int(c) for c in args.connections.split(",")):
            print(f"running wrk with {n} connection(s) for {args.seconds}s ...", file=sys.stderr)
            print(
                json.dumps(
                    run_wrk(f"http://127.0.0.1:{args.port}/v1/messages", script, n, args.seconds)
                ),
                flush=True,
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
