"""Service endpoints: health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from starlette.responses import Response

from smsgate.dispatch.health import live_health
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
        yield from _connector_gauges(rt)


def _connector_gauges(rt: object) -> list[GaugeMetricFamily]:
    """Per live connector of this process's dispatcher: up, bound binds, submits in flight."""
    dispatcher = getattr(rt, "dispatcher", None)
    if dispatcher is None:
        return []
    up = GaugeMetricFamily(
        "smsgate_connector_up", "1 when the connector can take messages", labels=["connector"]
    )
    bound = GaugeMetricFamily(
        "smsgate_connector_bound_binds", "SMPP binds bound now", labels=["connector"]
    )
    in_flight = GaugeMetricFamily(
        "smsgate_connector_in_flight", "submit_sm awaiting their answer", labels=["connector"]
    )
    for name, connector in sorted(dispatcher.pool.live.items()):
        health = live_health(connector)
        up.add_metric([name], 1 if health["healthy"] else 0)
        if "bound" in health:
            bound.add_metric([name], health["bound"])
        if "in_flight" in health:
            in_flight.add_metric([name], health["in_flight"])
    return [up, bound, in_flight]


_collector = _DatabaseCollector()
REGISTRY.register(_collector)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    _collector.runtime = runtime(request)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
