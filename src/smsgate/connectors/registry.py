"""Connector configurations in the database and the factory that builds live connectors."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smsgate.config import Settings
from smsgate.connectors.base import Connector
from smsgate.connectors.http import load_providers
from smsgate.connectors.models import ConnectorConfig
from smsgate.connectors.simulator import Simulator
from smsgate.errors import InvalidRequest, NotFound
from smsgate.kit.time import utcnow
from smsgate.routing.service import DEFAULT_CONNECTOR

BUILT_IN_KINDS = ("simulator", "smpp")


def kinds() -> tuple[str, ...]:
    return BUILT_IN_KINDS + tuple(sorted(load_providers()))


def add_connector(
    session: Session, name: str, kind: str, options: dict[str, Any], secret: str = ""
) -> ConnectorConfig:
    if kind not in kinds():
        raise InvalidRequest(f"unknown connector kind {kind!r}; one of {', '.join(kinds())}")
    provider = load_providers().get(kind)
    missing = [o for o in provider.required if not options.get(o)] if provider else []
    if missing:
        raise InvalidRequest(f"a {kind} connector needs {', '.join(missing)}")
    if not name or len(name) > 64 or name == DEFAULT_CONNECTOR:
        raise InvalidRequest(f"connector name {name!r} is empty, too long or reserved")
    if session.scalar(select(ConnectorConfig.id).where(ConnectorConfig.name == name)):
        raise InvalidRequest(f"a connector named {name!r} exists already", code="duplicate")
    if kind == "smpp" and not (options.get("host") and options.get("port")):
        raise InvalidRequest("an smpp connector needs --host and --port")
    if kind == "smpp":
        # SMPP 3.4 fields are C strings of fixed maximum size (5.2.x): longer ones never bind
        for field, value, limit in (
            ("password", secret, 8),
            ("system_id", str(options.get("system_id", "")), 15),
            ("system_type", str(options.get("system_type", "")), 12),
        ):
            if len(value) > limit:
                raise InvalidRequest(f"SMPP allows at most {limit} characters in {field}")
    config = ConnectorConfig(name=name, kind=kind, options=json.dumps(options), secret=secret)
    session.add(config)
    session.flush()
    return config


def list_connectors(session: Session) -> list[ConnectorConfig]:
    return list(session.scalars(select(ConnectorConfig).order_by(ConnectorConfig.name)))


def remove_connector(session: Session, name: str) -> None:
    if not session.execute(delete(ConnectorConfig).where(ConnectorConfig.name == name)).rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no connector named {name!r}", code="connector_not_found")


def public_view(config: ConnectorConfig) -> dict[str, Any]:
    """What an API or the CLI may show: never the secret."""
    return {
        "name": config.name,
        "kind": config.kind,
        "options": json.loads(config.options),
        "enabled": config.enabled,
        "has_secret": bool(config.secret),
    }


def default_simulator(settings: Settings) -> Simulator:
    return Simulator(
        DEFAULT_CONNECTOR,
        delay=settings.simulator_delay,
        undeliverable=settings.simulator_undeliverable,
        rejected=settings.simulator_rejected,
    )


def build(config: ConnectorConfig) -> Connector:
    options = json.loads(config.options)
    if config.kind == "simulator":
        return Simulator(
            config.name,
            delay=float(options.get("delay", 0.5)),
            undeliverable=str(options.get("undeliverable", "")),
            rejected=str(options.get("rejected", "")),
        )
    if config.kind == "smpp":
        from smsgate.connectors.smpp.client import SmppConnector

        return SmppConnector(config.name, password=config.secret, **options)
    provider = load_providers().get(config.kind)
    if provider is not None:
        return provider(config.name, options, config.secret)
    raise InvalidRequest(f"unknown connector kind {config.kind!r}")


def touch(config: ConnectorConfig) -> None:
    config.updated_at = utcnow()
