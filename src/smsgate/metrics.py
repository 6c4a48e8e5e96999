"""Prometheus metrics; the gauges that need the database are read at scrape time."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ACCEPTED = Counter("smsgate_messages_accepted", "Messages accepted", ["surface"])
SUBMITS = Counter("smsgate_submits", "Messages handed to a connector")
RECEIPTS = Counter("smsgate_receipts", "Delivery receipts processed")
DISPATCH_LATENCY = Histogram(
    "smsgate_dispatch_latency_seconds",
    "Seconds from acceptance to submission upstream",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ACCEPT_BATCH = Histogram(
    "smsgate_accept_batch_size",
    "Send requests accepted together in one commit (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
