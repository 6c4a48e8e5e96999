"""Service endpoints: health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from starlette.responses import Response

from smsgate.messaging.queries import counts_by_status
from smsgate.surfaces.deps import runtime

router = APIRouter(tags=["service"])


@router.get("/status", summary="Service health (SMSgic's answer)")
def status() -> list[str]:
    return ["OK"]


class _DatabaseCollector(Collector):
    """Message counts by status and the queue depth, read from the database at scrape time."""

    def __init__(self) -> None:
        self.runtime: object | None = None

    def collect(self):  # type: ignore[no-untyped-def]
        rt = self.runtime
        if rt is None:
            return
        with rt.db.read() as session:  # type: ignore[attr-defined]
            counts = counts_by_status(session)
        by_status = GaugeMetricFamily("smsgate_messages", "Messages by status", labels=["status"])
        for name, count in sorted(counts.items()):
            by_status.add_metric([name], count)
        yield by_status
        depth = counts.get("queued", 0) + counts.get("scheduled", 0)
        yield GaugeMetricFamily("smsgate_queue_depth", "Messages waiting to leave", value=depth)


_collector = _DatabaseCollector()
REGISTRY.register(_collector)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    _collector.runtime = runtime(request)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
