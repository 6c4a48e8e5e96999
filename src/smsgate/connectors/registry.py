"""Connector configurations in the database and the factory that builds live connectors.

Credentials are stored sealed (``connectors/vault.py``): the secret column holds the SMPP
password or API key, and an HTTP connector's ``callback_token`` option the random token of
its callback URL. Both are opened only here, by ``build`` (for the live connector) and by
``authenticate_callback`` (to check a provider's callback); ``public_view``, which every API
and CLI listing goes through, shows neither.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smsgate.config import Settings, get_settings
from smsgate.connectors.base import Connector
from smsgate.connectors.http import load_providers
from smsgate.connectors.http.base import HttpProvider
from smsgate.connectors.models import ConnectorConfig
from smsgate.connectors.simulator import Simulator
from smsgate.connectors.vault import Vault, is_sealed, vault_at, vault_for
from smsgate.errors import Forbidden, InvalidRequest, NotFound
from smsgate.kit.time import utcnow
from smsgate.routing.service import DEFAULT_CONNECTOR

log = structlog.get_logger(__name__)
BUILT_IN_KINDS = ("simulator", "smpp")
# Options smsgate writes itself, sealed; never shown, never accepted from the operator.
SEALED_OPTIONS = ("callback_token",)


def kinds() -> tuple[str, ...]:
    return BUILT_IN_KINDS + tuple(sorted(load_providers()))


def add_connector(
    session: Session,
    name: str,
    kind: str,
    options: dict[str, Any],
    secret: str = "",
    *,
    settings: Settings | None = None,
) -> ConnectorConfig:
    """Add a connector; its secret is stored sealed, and an HTTP connector gets a fresh
    callback token (``new_callback_url`` tells the URL that carries it, at creation only).
    The key is ``settings``' (by default the environment's, for the session's database)."""
    if kind not in kinds():
        raise InvalidRequest(f"unknown connector kind {kind!r}; one of {', '.join(kinds())}")
    provider = load_providers().get(kind)
    missing = [o for o in provider.required if not options.get(o)] if provider else []
    if missing:
        raise InvalidRequest(f"a {kind} connector needs {', '.join(missing)}")
    reserved = [o for o in SEALED_OPTIONS if o in options]
    if reserved:
        raise InvalidRequest(f"option {reserved[0]!r} is set by smsgate, not by the operator")
    if not name or len(name) > 64 or name == DEFAULT_CONNECTOR:
        raise InvalidRequest(f"connector name {name!r} is empty, too long or reserved")
    if session.scalar(select(ConnectorConfig.id).where(ConnectorConfig.name == name)):
        raise InvalidRequest(f"a connector named {name!r} exists already", code="duplicate")
    if kind == "smpp":
        _check_smpp(options, secret)
    stored = dict(options)
    if secret or provider is not None:
        vault = vault_for(settings) if settings is not None else _session_vault(session)
        if provider is not None:
            stored["callback_token"] = vault.seal(secrets.token_urlsafe(24))
        secret = vault.seal(secret)
    config = ConnectorConfig(name=name, kind=kind, options=json.dumps(stored), secret=secret)
    session.add(config)
    session.flush()
    return config


def _check_smpp(options: dict[str, Any], secret: str) -> None:
    if not (options.get("host") and options.get("port")):
        raise InvalidRequest("an smpp connector needs --host and --port")
    # SMPP 3.4 fields are C strings of fixed maximum size (5.2.x): longer ones never bind
    for field, value, limit in (
        ("password", secret, 8),
        ("system_id", str(options.get("system_id", "")), 15),
        ("system_type", str(options.get("system_type", "")), 12),
    ):
        if len(value) > limit:
            raise InvalidRequest(f"SMPP allows at most {limit} characters in {field}")


def _session_vault(session: Session) -> Vault:
    """The vault of the session's database, with the key from the environment."""
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    return vault_at(url, get_settings().secret_key.get_secret_value())


def list_connectors(session: Session) -> list[ConnectorConfig]:
    return list(session.scalars(select(ConnectorConfig).order_by(ConnectorConfig.name)))


def remove_connector(session: Session, name: str) -> None:
    if not session.execute(delete(ConnectorConfig).where(ConnectorConfig.name == name)).rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no connector named {name!r}", code="connector_not_found")


def public_view(config: ConnectorConfig) -> dict[str, Any]:
    """What an API or the CLI may show: never the secret, never the callback token."""
    options = json.loads(config.options)
    return {
        "name": config.name,
        "kind": config.kind,
        "options": {k: v for k, v in options.items() if k not in SEALED_OPTIONS},
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


def build(config: ConnectorConfig, settings: Settings | None = None) -> Connector:
    settings = settings or get_settings()
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

        return SmppConnector(config.name, password=_open(config.secret, settings), **options)
    provider = load_providers().get(config.kind)
    if provider is not None:
        token = _open(str(options.pop("callback_token", "")), settings)
        options["callback_url"] = callback_url(config.name, options, token, settings.public_url)
        return provider(config.name, options, _open(config.secret, settings))
    raise InvalidRequest(f"unknown connector kind {config.kind!r}")


def _open(stored: str, settings: Settings) -> str:
    return vault_for(settings).open(stored) if is_sealed(stored) else stored


def callback_url(name: str, options: Mapping[str, Any], token: str, public_url: str) -> str:
    """The URL a connector gives its provider for callbacks (empty: none is given).

    The ``callback_url`` option, else ``{public_url}/v1/callbacks/{name}``, followed by
    ``/{token}``. The same function gives the URL a Twilio signature is checked against."""
    base = str(options.get("callback_url") or "")
    if not base and public_url:
        base = f"{public_url.rstrip('/')}/v1/callbacks/{quote(name, safe='')}"
    if not base:
        return ""
    return f"{base.rstrip('/')}/{token}" if token else base


def new_callback_url(config: ConnectorConfig, settings: Settings) -> str | None:
    """At creation only: the callback URL to configure at the provider (for inbound
    messages), or its path when no public URL is known; None for non-HTTP connectors."""
    options = json.loads(config.options)
    if "callback_token" not in options:
        return None
    token = _open(str(options["callback_token"]), settings)
    return callback_url(config.name, options, token, settings.public_url) or (
        f"/v1/callbacks/{quote(config.name, safe='')}/{token}"
    )


def touch(config: ConnectorConfig) -> None:
    config.updated_at = utcnow()


# --- callbacks from HTTP providers ---------------------------------------------------------


def callback_target(session: Session, name: str) -> tuple[ConnectorConfig, type[HttpProvider]]:
    """The HTTP connector a callback names, with its provider class."""
    config = session.scalar(select(ConnectorConfig).where(ConnectorConfig.name == name))
    provider = load_providers().get(config.kind) if config is not None else None
    if config is None or provider is None:
        raise NotFound(f"no HTTP connector named {name!r}", code="connector_not_found")
    return config, provider


def authenticate_callback(
    config: ConnectorConfig,
    provider: type[HttpProvider],
    *,
    token: str | None,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
    client: str = "",
) -> None:
    """Refuse (403, logged without any secret) a callback that does not prove it comes from
    the provider: the connector's callback token must be in its path (compared in constant
    time), and a provider that signs its callbacks (Twilio) must have signed this one."""
    reason = _refusal(config, provider, token, url, body, headers, settings)
    if reason is None:
        return
    log.warning(
        "upstream callback refused",
        connector=config.name,
        kind=config.kind,
        reason=reason,
        client=client,
    )
    raise Forbidden(
        f"callback to connector {config.name!r} refused: {reason}", code="callback_unauthenticated"
    )


def _refusal(
    config: ConnectorConfig,
    provider: type[HttpProvider],
    token: str | None,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
) -> str | None:
    options = json.loads(config.options)
    expected = _open(str(options.get("callback_token") or ""), settings)
    if expected:
        if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
            return "wrong or missing callback token"
    elif not provider.signs_callbacks:
        return "the connector has no callback token yet (run `smsgate connectors rekey`)"
    if provider.signs_callbacks:
        # The URL the provider signed is the one the connector gave it, not the one this
        # process sees behind a proxy; only without a configured URL is the request's own used.
        signed = callback_url(config.name, options, expected, settings.public_url) or url
        if not provider.authentic(signed, body, headers, _open(config.secret, settings)):
            return "signature does not verify"
    return None


def rekey(session: Session, settings: Settings) -> list[tuple[str, str]]:
    """Seal every stored credential under the first key (plain ones from before encryption
    too), and give each HTTP connector without a callback token one; returns the
    ``(name, callback URL)`` of those, the only time their URL is shown."""
    vault = vault_for(settings)
    issued: list[tuple[str, str]] = []
    for config in list_connectors(session):
        options = json.loads(config.options)
        config.secret = vault.reseal(config.secret) if config.secret else ""
        if options.get("callback_token"):
            options["callback_token"] = vault.reseal(str(options["callback_token"]))
        elif config.kind in load_providers():
            token = secrets.token_urlsafe(24)
            options["callback_token"] = vault.seal(token)
            touch(config)  # running dispatchers restart it with the new callback URL
            url = callback_url(config.name, options, token, settings.public_url)
            issued.append((config.name, url or f"/v1/callbacks/{config.name}/{token}"))
        config.options = json.dumps(options)
    session.flush()
    return issued
