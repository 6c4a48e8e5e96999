"""Typed settings: every knob is an environment variable with the ``SMSGATE_`` prefix."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMSGATE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{Path.cwd() / 'smsgate.db'}",
        description="SQLAlchemy URL; a SQLite file in the working directory by default.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    log_json: bool = False
    sqlite_busy_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a SQLite write waits for another writer's lock; after that the "
        "request answers 503 with Retry-After.",
    )

    # messaging
    max_parts: int = Field(10, ge=1, le=255, description="Longest message accepted, in parts.")
    validity_seconds: int = Field(48 * 3600, ge=60, description="How long a message may wait.")
    max_recipients: int = Field(1_000_000, ge=1)
    max_body_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes."
    )

    # dispatcher
    accept_linger_seconds: float = Field(
        0.002,
        ge=0,
        le=0.1,
        description="Longest wait to gather a commit batch as large as the last (0: never).",
    )
    dispatch_batch: int = Field(500, ge=1)
    dispatch_lease_seconds: int = Field(60, ge=5)
    dispatch_idle_seconds: float = Field(0.05, gt=0)
    connector_lease_seconds: float = Field(10.0, ge=1)
    retry_base_seconds: float = Field(2.0, gt=0)
    retry_max_seconds: float = Field(600.0, gt=0)

    # connectors: credentials at rest and the URL upstreams call back (docs/connectors.md)
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Fernet keys, comma-separated, that encrypt upstream credentials in the "
        "database; the first encrypts, every one decrypts. Unset with a SQLite file: a key "
        "file beside it.",
    )
    public_url: str = Field(
        "",
        description="Base URL at which upstream providers reach this smsgate, e.g. "
        "https://gw.example; the callback URLs given to them start with it.",
    )

    # built-in simulator connector
    simulator_delay: float = Field(0.5, ge=0, description="Seconds before the simulator's receipt.")
    simulator_undeliverable: str = Field(
        "", description="Regular expression: numbers that end undeliverable in the simulator."
    )
    simulator_rejected: str = Field(
        "", description="Regular expression: numbers the simulator rejects on submit."
    )

    # invoices: the operator's details printed on every invoice, and the PDF font
    invoice_number_format: str = Field(
        "C{seq}/{date:%Y%m%d}",
        description="Python format: seq = 10000 + invoice id, date = creation date (UTC).",
    )
    operator_name: str = "smsgate operator"
    operator_details: str = Field(
        "", description="Address, registration and bank details, lines separated by '\\n'."
    )
    invoice_font: Path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    invoice_font_bold: Path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
    invoice_tax_rate: Decimal = Field(Decimal(0), ge=0, lt=1)

    # webhooks
    webhooks_allow_private: bool = Field(
        False,
        description="Allow callback URLs on private, loopback, link-local or reserved addresses.",
    )
    webhooks_timeout_seconds: float = Field(10.0, gt=0, description="Limit of one attempt.")
    webhooks_concurrency: int = Field(32, ge=1, description="Requests in flight per process.")
    webhooks_batch: int = Field(100, ge=1, description="Deliveries per claim.")
    webhooks_lease_seconds: int = Field(
        60, ge=5, description="A claimed delivery's lease; longer than one attempt can take."
    )
    webhooks_idle_seconds: float = Field(0.5, gt=0, description="Wait between empty polls.")
    webhooks_retry_base_seconds: float = Field(10.0, gt=0, description="First retry delay.")
    webhooks_retry_max_seconds: float = Field(3600.0, gt=0, description="Cap of a retry delay.")
    webhooks_retry_hours: float = Field(
        24.0, gt=0, description="How long a delivery is retried before it is marked failed."
    )

    # inbound
    opt_out_keywords: str = Field(
        "STOP,STOPALL,UNSUBSCRIBE,CANCEL,END,QUIT,"  # English
        "СТОП,ОТПИСАТЬСЯ,ОТПИСКА,"  # Russian
        "TO'XTAT,TOXTAT,"  # Uzbek (any apostrophe: ʻ ’ ‘ ʼ are read as ')
        "STOPP,"  # German, Scandinavian
        "ARRÊT,ARRET,"  # French
        "ALTO,PARAR,BAJA",  # Spanish
        description="Comma-separated first words of an inbound message that opt the number "
        "out of the account's sends (case-insensitive).",
    )
    opt_in_keywords: str = Field(
        "START,UNSTOP,SUBSCRIBE,"  # English
        "СТАРТ,ПОДПИСАТЬСЯ,"  # Russian
        "BOSHLASH,"  # Uzbek
        "DÉMARRER,DEMARRER,"  # French
        "ALTA",  # Spanish
        description="Comma-separated first words of an inbound message that take the number "
        "off the account's opt-out list again (case-insensitive).",
    )

    # authentication: failed attempts (unknown or revoked tokens) before answers are 429
    auth_failures_per_address: int = Field(
        30, ge=1, description="Failed authentications one client address may make in a window."
    )
    auth_failures_per_token: int = Field(
        10, ge=1, description="Failed authentications with one and the same token in a window."
    )
    auth_failure_window_seconds: float = Field(
        300.0, gt=0, description="The window of both limits; a refused caller waits for its end."
    )

    # seed surfaces
    devsms_default_sender: str = Field("4546", description="devsms.uz's `from` when omitted")
    smsgic_calculate_per_minute: int = Field(3000, ge=1, description="SMSgic calculate limit")
    smsby_per_minute: int = Field(600, ge=1, description="sms.by requests a minute per token")

    # web dashboard (docs/dashboard.md)
    dashboard_session_idle_seconds: int = Field(
        12 * 3600, ge=1, description="A dashboard session ends after this long unused."
    )
    dashboard_session_max_seconds: int = Field(
        14 * 24 * 3600, ge=1, description="A dashboard session ends this long after sign-in."
    )
    dashboard_signin_per_email: int = Field(
        10, ge=1, description="Sign-in attempts per email address in 10 minutes."
    )
    dashboard_signin_per_address: int = Field(
        100, ge=1, description="Sign-in attempts per client address in 10 minutes."
    )
    dashboard_invitation_hours: int = Field(72, ge=1, description="How long an invitation lasts.")

    # first start
    demo: bool = Field(True, description="Create a demo account on first start.")
    demo_balance: Decimal = Decimal("100")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
