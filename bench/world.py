"""What a phase needs in its fresh database, built through smsgate's own services: a price
plan by network, a customer with a large prepaid balance, an approved sender, a token, and
SMPP connectors to the sink with a route to them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from smsgate.accounts.service import create_account, create_token
from smsgate.connectors.registry import add_connector
from smsgate.db import Database
from smsgate.pricing.service import parse_rate_csv, replace_rates
from smsgate.routing.models import Strategy
from smsgate.routing.service import add_route, list_routes, remove_route
from smsgate.senders.service import request_sender

PLAN = "bench"
# Country defaults and one network rate, so pricing looks up MCC + MNC as in production.
RATES = """mcc,mnc,country,network,price
247,,Latvia,,0.04
247,01,Latvia,LMT,0.03
434,,Uzbekistan,,0.05
257,,Belarus,,0.06
238,,Denmark,,0.045
"""
SENDER = "BENCH"
TEXT = "Benchmark message hello"
# Enough that no phase of any size runs out: a refused send would not be a throughput figure.
OPENING_BALANCE = Decimal(10**9)


@dataclass(frozen=True, slots=True)
class Tenant:
    account_id: int
    token: str
    sender: str


def prepare(url: str) -> tuple[Database, Tenant]:
    """Create the plan and a first customer in a migrated database."""
    db = Database(url)
    with db.write() as session:
        replace_rates(session, PLAN, list(parse_rate_csv(RATES)))
    return db, tenant(db, "Bench")


def tenant(db: Database, name: str) -> Tenant:
    """A customer on the plan with its approved sender and a token. A load of its own
    customer cannot be mixed up with requests still finishing from the load before."""
    with db.write() as session:
        account = create_account(session, name, balance=OPENING_BALANCE, plan=PLAN)
        request_sender(session, account.id, SENDER, approved=True)
        _, token = create_token(session, account.id, name="bench")
    return Tenant(account.id, token, SENDER)


def add_sink(db: Database, name: str, port: int, *, window: int) -> None:
    """An SMPP connector to the sink (one transceiver bind, receipts requested)."""
    options = {"host": "127.0.0.1", "port": port, "system_id": "bench", "window": window}
    with db.write() as session:
        add_connector(session, name, "smpp", options, "bench")


def route_all(db: Database, connectors: list[str]) -> None:
    """One route for every message over ``connectors``, replacing any other."""
    with db.write() as session:
        for route in list_routes(session):
            remove_route(session, route.id)
        strategy = Strategy.WEIGHTED if len(connectors) > 1 else Strategy.PRIORITY
        add_route(session, ",".join(connectors), strategy=strategy)


def numbers(count: int, seed: int = 7) -> list[str]:
    """Distinct mobile numbers, half Latvian (+371 24xxxxxx to 29xxxxxx: 23 has gaps),
    half Uzbek (+998 90xxxxxxx), in random order."""
    rng = random.Random(seed)
    half = count // 2
    latvian = [f"+3712{4 + n // 10**6}{n % 10**6:06d}" for n in rng.sample(range(6 * 10**6), half)]
    uzbek = [f"+99890{n:07d}" for n in rng.sample(range(10**7), count - half)]
    mixed = latvian + uzbek
    rng.shuffle(mixed)
    return mixed
