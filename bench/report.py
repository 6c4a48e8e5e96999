"""The run's results as a text table, a JSON file and a PNG plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHORT = {"smsgate": "sg", "postgres": "pg", "sink": "sink", "wrk": "wrk"}


def cpu_text(usage: dict[str, Any]) -> str:
    per = usage.get("cpu_pct_of_one_core", {})
    return " ".join(f"{SHORT.get(k, k.replace('worker-', 'w'))} {v}" for k, v in per.items())


# Not the gateway: the load generator, the SMPP sink and the peers' receipt endpoint.
HARNESS = frozenset({"wrk", "sink", "dlrrecv"})


def per_core_second(rate: float, cpu: dict[str, int]) -> str:
    """Requests per second of the gateway's own CPU: on a shared machine, where the share
    of the cores each run gets varies, this compares better than the rate alone."""
    used = sum(v for k, v in cpu.items() if k not in HARNESS) / 100
    return f"{rate / used:,.0f}" if used > 0 else ""


def _verdict(row: dict[str, Any]) -> str:
    return "ok" if row.get("check", {}).get("ok") else "FAIL"


def _grid(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(cells, widths, strict=True)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _numeric(cell: str) -> bool:
    return cell.replace(",", "").replace(".", "").replace("x", "").replace("-", "").isdigit()


def _ratio(ratios: dict[str, Any], peer: str, key: str) -> str:
    value = ratios.get(peer, {}).get(key)
    return f"{value:.2f}x" if value is not None else ""


def table(results: dict[str, Any]) -> str:
    meta = results["meta"]
    ratios = results.get("ratios", {})
    start, end = (" ".join(map(str, meta.get(k, []))) for k in ("loadavg_start", "loadavg_end"))
    parts = [
        f"smsgate benchmark {meta['started']} ({'quick' if meta['quick'] else 'full'}), "
        f"{meta['cores']} cores shared by everything below; loadavg at start {start}, "
        f"at end {end}",
        "CPU columns: % of one core per process (sg = smsgate serve, pg = PostgreSQL, w1/w2 = "
        "workers); per core-s = requests a second of the gateway's own CPU (not wrk's or the "
        "sink's); busy = % of all cores used by anything, ours or not.",
    ]
    single = results.get("single")
    if isinstance(single, list) and single:
        rows = []
        for r in single:
            key = f"single {r['engine']} {r['endpoint']} c={r['connections']}"
            rows.append(
                [
                    r["engine"],
                    r["endpoint"],
                    str(r["connections"]),
                    f"{r['accepted_per_s']:,.0f}",
                    f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}",
                    str(r["non_2xx"]),
                    _verdict(r),
                    cpu_text(r),
                    per_core_second(r["accepted_per_s"], r["cpu_pct_of_one_core"]),
                    f"{r['machine_busy_pct']:.0f}",
                    _ratio(ratios, "kannel", key),
                    _ratio(ratios, "jasmin", key),
                ]
            )
        parts += ["", "1. Single sends over HTTP (wrk; every accepted message durable and charged)"]
        parts.append(
            _grid(
                [
                    "engine",
                    "endpoint",
                    "conns",
                    "accepted/s",
                    "p50 ms",
                    "p99 ms",
                    "non-2xx",
                    "check",
                    "CPU %",
                    "per core-s",
                    "busy %",
                    "/Kannel",
                    "/Jasmin",
                ],
                rows,
            )
        )
    parts += _bulk(results.get("bulk"))
    parts += _e2e(results.get("e2e"), results.get("e2e_pg"), ratios)
    parts += _peers(results.get("peers"))
    for key in ("single", "bulk", "e2e", "e2e_pg"):
        if isinstance(results.get(key), dict):
            parts += ["", f"{key}: {results[key].get('error') or results[key].get('skipped')}"]
    return "\n".join(parts) + "\n"


def _bulk(bulk: Any) -> list[str]:
    if not isinstance(bulk, list) or not bulk:
        return []
    rows = [
        [
            r["engine"],
            f"{r['recipients']:,}",
            f"{r['seconds']:.2f}",
            f"{r['recipients_per_s']:,}",
            f"{r['peak_rss_mb']:,.0f}",
            f"{r['rss_before_mb']:,.0f}",
            _verdict(r),
            cpu_text(r),
            f"{r['machine_busy_pct']:.0f}",
        ]
        for r in bulk
    ]
    return [
        "",
        "2. Bulk: one sending (POST /v1/sendings) priced, charged and queued",
        _grid(
            [
                "engine",
                "recipients",
                "seconds",
                "recipients/s",
                "peak RSS MB",
                "RSS before",
                "check",
                "CPU %",
                "busy %",
            ],
            rows,
        ),
    ]


def _e2e(e2e: Any, e2e_pg: Any, ratios: dict[str, Any]) -> list[str]:
    runs = [r for group in (e2e, e2e_pg) if isinstance(group, list) for r in group]
    if not runs:
        return []
    rows = []
    for r in runs:
        key = f"e2e {r['engine']} workers={r['workers']}"
        rows.append(
            [
                r["engine"],
                str(r["workers"]),
                f"{r['messages']:,}",
                f"{r['accepted_per_s']:,.0f}",
                f"{r['submit_sm_per_s']:,.0f}",
                f"{r['receipts_per_s']:,.0f}",
                f"{r['seconds_to_last_delivered']:.1f}",
                f"{r['delivered_per_s_end_to_end']:,.0f}",
                _verdict(r),
                cpu_text(r),
                f"{r['machine_busy_pct']:.0f}",
                _ratio(ratios, "kannel", key),
                _ratio(ratios, "jasmin", key),
            ]
        )
    return [
        "",
        "3-4. End to end with receipts (SMPP to smsc_sink.py --dlr; wrk, 16 connections)",
        _grid(
            [
                "engine",
                "workers",
                "messages",
                "accepted/s",
                "submit_sm/s",
                "receipts/s",
                "s to last delivered",
                "delivered/s",
                "check",
                "CPU % (whole run)",
                "busy %",
                "/Kannel",
                "/Jasmin",
            ],
            rows,
        ),
        "  ratios: smsgate's submit_sm/s from first request to last submit over the peer's "
        "end_to_end_submit_sm_per_s_incl_drain (16 connections, receipts on)",
    ]


def _peers(peers: Any) -> list[str]:
    if not isinstance(peers, dict):
        return []
    if "skipped" in peers:
        return ["", f"5. Peers: {peers['skipped']}"]
    rows, loads = [], []
    for name, lines in peers.items():
        if name.endswith("_loadavg"):
            start, end = lines["start"][0], lines["end"][0]
            loads.append(f"{name.removesuffix('_loadavg')} {start} at start, {end} at end")
        for x in lines if isinstance(lines, list) else []:
            cpu = x.get("cpu_pct_of_one_core_during_load", {})
            rows.append(
                [
                    name,
                    x["label"],
                    str(x["connections"]),
                    "yes" if x.get("dlr") else "no",
                    f"{x.get('http_req_per_s') or 0:,.0f}",
                    str(x.get("latency", {}).get("99", "")),
                    f"{x.get('end_to_end_submit_sm_per_s_incl_drain') or 0:,.0f}",
                    " ".join(f"{k} {v}" for k, v in cpu.items() if v),
                    per_core_second(x.get("http_req_per_s") or 0, cpu),
                    str(x.get("machine_busy_pct_of_2_cores", "")),
                ]
            )
    return [
        "",
        "5. Peers, measured by the anchors' scripts in this run"
        + (f" (loadavg: {'; '.join(loads)})" if loads else ""),
        _grid(
            [
                "peer",
                "phase",
                "conns",
                "receipts",
                "HTTP req/s",
                "p99",
                "e2e submit/s",
                "CPU % during load",
                "per core-s",
                "busy %",
            ],
            rows,
        ),
    ]


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def plot(path: Path, results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    _plot_single(axes[0][0], axes[0][1], results)
    _plot_bulk(axes[1][0], results.get("bulk"))
    _plot_e2e(axes[1][1], results)
    meta = results["meta"]
    fig.suptitle(
        f"smsgate benchmark {meta['started']} ({'quick' if meta['quick'] else 'full'}); "
        f"{meta['cores']} shared cores, loadavg at start {meta['loadavg_start'][0]}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _failed_mark(row: dict[str, Any]) -> str:
    return "" if row["check"]["ok"] else "\nCHECK FAILED"


def _plot_single(rate_ax: Any, p99_ax: Any, results: dict[str, Any]) -> None:
    single = results.get("single")
    rate_ax.set_title("1. single sends: accepted/s")
    p99_ax.set_title("1. single sends: p99 latency (ms)")
    if not isinstance(single, list) or not single:
        return
    conns = sorted({r["connections"] for r in single})
    series = sorted({(r["engine"], r["endpoint"]) for r in single})
    width = 0.8 / len(series)
    for i, (engine, endpoint) in enumerate(series):
        got = {
            r["connections"]: r
            for r in single
            if (r["engine"], r["endpoint"]) == (engine, endpoint)
        }
        xs = [j + i * width for j, c in enumerate(conns) if c in got]
        label = f"{engine} {endpoint}"
        rate_ax.bar(xs, [got[c]["accepted_per_s"] for c in conns if c in got], width, label=label)
        p99_ax.bar(xs, [got[c]["p99_ms"] for c in conns if c in got], width, label=label)
    peers = results.get("peers")
    for name, marker in (("kannel", "k*"), ("jasmin", "rD")):
        lines = peers.get(name) if isinstance(peers, dict) else None
        if isinstance(lines, list):
            plain = {int(x["connections"]): x for x in lines if not x.get("dlr")}
            xs = [j + 0.4 - width / 2 for j, c in enumerate(conns) if c in plain]
            rate_ax.plot(
                xs, [plain[c]["http_req_per_s"] for c in conns if c in plain], marker, label=name
            )
    p99_ax.set_yscale("log")
    for ax in (rate_ax, p99_ax):
        ax.set_xticks(
            [j + 0.4 - width / 2 for j in range(len(conns))], [f"{c} conn" for c in conns]
        )
        ax.legend(fontsize=8)


def _plot_bulk(ax: Any, bulk: Any) -> None:
    ax.set_title("2. bulk: seconds to accept one sending (label: peak RSS)")
    if not isinstance(bulk, list) or not bulk:
        return
    labels = [f"{r['engine']}\n{r['recipients']:,}{_failed_mark(r)}" for r in bulk]
    bars = ax.bar(range(len(bulk)), [r["seconds"] for r in bulk], color="tab:green")
    for bar, r in zip(bars, bulk, strict=True):
        ax.annotate(
            f"{r['peak_rss_mb']:,.0f} MB",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(bulk)), labels)
    ax.set_ylabel("seconds")


def _plot_e2e(ax: Any, results: dict[str, Any]) -> None:
    ax.set_title("3-4. end to end with receipts (per second)")
    runs = [r for k in ("e2e", "e2e_pg") if isinstance(results.get(k), list) for r in results[k]]
    if not runs:
        return
    metrics = (
        ("submit_sm_per_s", "submit_sm/s"),
        ("receipts_per_s", "receipts/s"),
        ("delivered_per_s_end_to_end", "delivered/s, first request to last"),
    )
    width = 0.8 / len(metrics)
    for i, (key, label) in enumerate(metrics):
        ax.bar(
            [j + i * width for j in range(len(runs))], [r[key] for r in runs], width, label=label
        )
    ax.set_xticks(
        [j + width for j in range(len(runs))],
        [f"{r['engine']}\nworkers {r['workers']}{_failed_mark(r)}" for r in runs],
    )
    peers = results.get("peers")
    for name, style in (("kannel", "k--"), ("jasmin", "r:")):
        lines = peers.get(name) if isinstance(peers, dict) else None
        rate = next(
            (x["end_to_end_submit_sm_per_s_incl_drain"] for x in lines or [] if x.get("dlr")), None
        )
        if rate:
            ax.axhline(rate, color=style[0], linestyle=style[1:], label=f"{name}, receipts on")
    ax.legend(fontsize=8)
