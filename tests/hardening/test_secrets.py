"""Secrets never leave smsgate: not in its logs (DEBUG, JSON and text), its errors or its API
answers; API tokens are not even in its database.

A real ``smsgate serve`` runs with ``SMSGATE_LOG_LEVEL=debug`` and its whole output is kept.
A full flow goes through it: accounts and tokens made and revoked through the admin API,
connectors with passwords and API keys (SMPP, sms.by with the key in the query string,
Infobip with it in a header, Eskiz with a password and the bearer token it hands out),
webhook secrets made and rotated, sends on every surface, receipts by SMPP, callbacks and
polls, errors of many kinds, and the operator's listings. Then every secret is looked for in
the output, in every answer (but the one that showed it once), in the CLI's listing and, for
API tokens, in every column of every table.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import String, Text, inspect, select

import smsgate.models
from smsgate.accounts.models import ApiToken, TokenScope
from smsgate.accounts.service import create_token, revoke_token
from smsgate.db import Base, Database
from tests.connectors import fake_smsc
from tests.connectors.http.common import running
from tests.connectors.http.fakes_intl import FakeInfobip
from tests.connectors.http.fakes_seed import FakeEskiz, FakeSmsby
from tests.support.factories import make_customer
from tests.support.postgres import free_port
from tests.support.waiting import wait_for
from tests.webhooks.receiver import Receiver, receiving

SMSGATE = str(Path(sys.executable).with_name("smsgate"))
# Letters that hexadecimal ids, UUIDs and hashes never contain, so a secret cannot turn up by
# chance; and nothing that URL, JSON or Laravel's "\/" encoding would change.
_ALPHABET = "ghjkmnpqrstvwxyz"


def _secret(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass
class Answers:
    """Every answer smsgate gave (status line, headers and body), in order."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        label = f"{response.request.method} {response.request.url.path} {response.status_code}"
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.seen.append((label, f"{headers}\n\n{response.text}"))


@dataclass
class Secret:
    name: str
    value: str
    shown_in: set[int] = field(default_factory=set)  # answers that showed it once, by design


@dataclass
class Run:
    base: str
    client: httpx.Client
    answers: Answers
    op: dict[str, str]
    secrets: dict[str, Secret] = field(default_factory=dict)

    def keep(self, name: str, value: str, shown_in: int | None = None) -> str:
        self.secrets[name] = Secret(name, value, set() if shown_in is None else {shown_in})
        return value

    def last(self) -> int:
        return len(self.answers.seen) - 1

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        answer = self.client.request(method, path, **kwargs)
        assert answer.status_code == status, (method, path, answer.text)
        return answer.json() if answer.content and "json" in answer.headers["content-type"] else {}


# --- the upstreams and smsgate ---------------------------------------------------------------


@contextmanager
def smsc() -> Iterator[fake_smsc.FakeSmsc]:
    """A fake SMSC that refuses the first bind (a wrong password), then delivers."""
    loop = asyncio.new_event_loop()
    server = fake_smsc.bind_refused(1, status=0x0E)
    ready, stop = threading.Event(), asyncio.Event()

    async def run() -> None:
        async with server:
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@contextmanager
def serving_smsgate(
    db_url: str, secret_key: str, log_json: bool, home: Path
) -> Iterator[tuple[str, Path]]:
    """``smsgate serve`` at DEBUG with every byte it writes kept in ``home/serve.log``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    env |= {
        "SMSGATE_DATABASE_URL": db_url,
        "SMSGATE_SECRET_KEY": secret_key,
        "SMSGATE_DEMO": "false",
        "SMSGATE_LOG_LEVEL": "debug",
        "SMSGATE_LOG_JSON": "true" if log_json else "false",
        "SMSGATE_WEBHOOKS_ALLOW_PRIVATE": "true",  # the receiver is on loopback
        "SMSGATE_WEBHOOKS_IDLE_SECONDS": "0.05",
        "SMSGATE_SIMULATOR_DELAY": "0.05",
        "SMSGATE_DISPATCH_IDLE_SECONDS": "0.02",
    }
    log = home / "serve.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SMSGATE, "serve", "--port", str(port)],
            env=env,
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:

            def up() -> bool:
                try:
                    return httpx.get(f"{base}/status", timeout=1).status_code == 200
                except httpx.HTTPError:
                    assert process.poll() is None, log.read_text()
                    return False

            wait_for(up, timeout=60)
            yield base, log
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


# --- the flow ------------------------------------------------------------------------------


def _account(run: Run, plan: str) -> tuple[int, dict[str, str]]:
    made = run.ok(
        "POST",
        "/v1/admin/accounts",
        201,
        headers=run.op,
        json={"name": "Leaky", "plan": plan, "balance": "50"},
    )
    token = run.keep("customer token", made["token"]["token"], run.last())
    account = made["account"]["id"]
    extra = run.ok("POST", f"/v1/admin/accounts/{account}/tokens", 201, headers=run.op)
    run.keep("revoked token", extra["token"], run.last())
    run.ok("DELETE", f"/v1/admin/tokens/{extra['id']}", headers=run.op)
    customer = {"Authorization": f"Bearer {token}"}
    sender = run.ok("POST", "/v1/senders", 201, headers=customer, json={"name": "LEAKY"})
    run.ok("POST", f"/v1/admin/senders/{sender['id']}/approve", headers=run.op)
    return account, customer


def _connectors(run: Run, smpp_port: int, smsby: str, infobip: str, eskiz: str) -> dict[str, int]:
    """Adds the connectors and their routes; returns the answer that created each one."""
    created: dict[str, int] = {}

    def add(name: str, kind: str, options: dict[str, Any], secret: str, status: int = 201) -> None:
        run.ok(
            "POST",
            "/v1/admin/connectors",
            status,
            headers=run.op,
            json={"name": name, "kind": kind, "options": options, "secret": secret},
        )
        created[name] = run.last()

    smpp = {"host": "127.0.0.1", "port": smpp_port, "system_id": "leaky", "reconnect_min": 0.1}
    add("carrier", "smpp", smpp, run.secrets["smpp password"].value)
    add("too-long", "smpp", smpp, run.keep("refused smpp password", _secret(12)), 422)
    add("by", "smsby", {"base_url": smsby, "poll_interval": 0.3}, run.secrets["sms.by key"].value)
    add("by-wrong", "smsby", {"base_url": smsby}, run.keep("wrong sms.by key", _secret()))
    callbacks = f"{run.base}/v1/callbacks"
    add(
        "ib",
        "infobip",
        {"base_url": infobip, "callback_url": f"{callbacks}/ib"},
        run.secrets["infobip key"].value,
    )
    add(
        "eskiz",
        "eskiz",
        {"base_url": eskiz, "email": "reseller@example.uz", "callback_url": f"{callbacks}/eskiz"},
        run.secrets["eskiz password"].value,
    )
    for connector, country in (
        ("carrier", "LV"),
        ("by", "BY"),
        ("ib", "DK"),
        ("eskiz", "UZ"),
        ("by-wrong", "RU"),
    ):
        run.ok(
            "POST",
            "/v1/admin/routes",
            201,
            headers=run.op,
            json={"connectors": connector, "country": country},
        )
    return created


def _callback_tokens(run: Run, created: dict[str, int], urls: dict[str, str]) -> None:
    """The token each HTTP connector appends to the callback URL it gives its provider (as the
    provider saw it): a secret that only the connector's creation may show."""
    for name, url in urls.items():
        base = f"{run.base}/v1/callbacks/{name}/"
        assert url.startswith(base), url
        token = url.removeprefix(base)
        run.secrets[f"{name} callback token"] = Secret(f"{name} callback token", token)
        if token in run.answers.seen[created[name]][1]:
            run.secrets[f"{name} callback token"].shown_in.add(created[name])


def _webhooks(run: Run, customer: dict[str, str], receiver: Receiver) -> None:
    made = run.ok("PUT", "/v1/webhooks", headers=customer, json={"url": f"{receiver.url}/hook"})
    run.keep("webhook secret", made["secret"], run.last())
    rotated = run.ok("POST", "/v1/webhooks/secret", headers=customer)
    run.keep("rotated webhook secret", rotated["secret"], run.last())


def _sends(run: Run, customer: dict[str, str]) -> list[int]:
    token = run.secrets["customer token"].value
    ids = []
    for number in ("+37126123456", "+4520123456"):  # SMPP, Infobip
        sent = run.ok(
            "POST",
            "/v1/messages",
            headers=customer,
            json={"to": number, "text": "native", "sender": "LEAKY"},
        )
        ids.append(sent["messages"][0]["id"])
    uz = run.ok(
        "POST",
        "/api/send_sms.php",
        headers=customer,
        json={"phone": "998901234567", "message": "devsms", "from": "LEAKY"},
    )
    ids.append(uz["data"]["sms_id"])
    by = run.ok(
        "POST",
        "/api/v1/sendQuickSMS",
        params={"token": token, "message": "smsby", "phone": "375291234567"},
    )
    ids.append(by["sms_id"])
    run.ok(  # to the connector with the wrong key: it stays queued
        "POST",
        "/sendings",
        headers=customer,
        json={"message": "smsgic", "recipients": ["79161234567"], "sender": "LEAKY"},
    )
    return ids


def _errors(run: Run, customer: dict[str, str]) -> None:
    token, revoked = run.secrets["customer token"].value, run.secrets["revoked token"].value
    client = run.client
    for headers in ({"Authorization": f"Bearer {revoked}"}, {"Authorization": "Bearer sg_x"}):
        assert client.get("/v1/balance", headers=headers).status_code == 401
        assert client.get("/balance", headers=headers).status_code == 401
    assert client.get("/api/v1/getBalance", params={"token": revoked}).status_code == 403
    assert client.get("/api/v1/noSuchCommand", params={"token": token}).status_code == 404
    assert client.get("/api/v1/checkSMS", params={"token": token, "sms_id": "x"}).status_code == 400
    assert client.post("/v1/messages", headers=customer, content=b"{").status_code == 422
    bad_send = client.post("/api/send_sms.php", headers=customer, json={"phone": "1"})
    assert bad_send.status_code == 400
    assert client.get("/v1/admin/connectors", headers=customer).status_code == 403
    for path in ("/v1/callbacks/ib", "/v1/callbacks/ib/wrong", "/v1/callbacks/nowhere"):
        assert client.post(path, content=b"not json").status_code in (403, 404)
    assert client.put("/v1/webhooks", headers=customer, json={"url": "ftp://x"}).status_code == 422


def _listings(run: Run, account: int, customer: dict[str, str]) -> None:
    for path in (
        "/v1/admin/connectors",
        "/v1/admin/audit?limit=500",
        f"/v1/admin/accounts/{account}",
        f"/v1/admin/accounts/{account}/tokens",
        "/v1/admin/operator-tokens",
        "/v1/admin/routes",
    ):
        run.ok("GET", path, headers=run.op)
    for path in ("/v1/webhooks", "/v1/webhooks/deliveries", "/v1/messages", "/v1/ledger"):
        run.ok("GET", path, headers=customer)
    assert run.client.get("/metrics").status_code == 200


def _final(run: Run, customer: dict[str, str], ids: list[int]) -> None:
    def done() -> bool:
        statuses = [
            run.client.get(f"/v1/messages/{i}", headers=customer).json()["status"] for i in ids
        ]
        return all(s == "delivered" for s in statuses)

    wait_for(done, timeout=60, interval=0.2)


# --- the test ------------------------------------------------------------------------------


def _operator(db: Database) -> str:
    with db.write() as session:
        _, token = create_token(session, None, scope=TokenScope.OPERATOR, name="secrets")
    return token


def _with_password(db_url: str, password: str) -> str:
    # The test server trusts local connections, so any password gets in: enough to see
    # whether smsgate ever prints the one in its database URL.
    return db_url.replace("postgres@", f"postgres:{password}@", 1)


@pytest.mark.parametrize(
    ("db_url", "log_json"),
    [("sqlite", False), pytest.param("postgres", True, marks=pytest.mark.postgres)],
    indirect=["db_url"],
)
def test_no_secret_in_logs_errors_or_answers(
    db_url: str, log_json: bool, db: Database, plan: str, tmp_path: Path
) -> None:
    answers = Answers()
    database_password = _secret()
    served_url = _with_password(db_url, database_password) if "postgres" in db_url else db_url
    smpp_password = _secret(8)  # SMPP 3.4 allows 8 characters
    with ExitStack() as stack:
        receiver = stack.enter_context(receiving())
        sms_center = stack.enter_context(smsc())
        smsby = stack.enter_context(running(FakeSmsby(token=_secret())))
        infobip = stack.enter_context(running(FakeInfobip(api_key=_secret())))
        eskiz = stack.enter_context(running(FakeEskiz(password=_secret())))
        key = Fernet.generate_key().decode()
        base, log = stack.enter_context(serving_smsgate(served_url, key, log_json, tmp_path))
        client = stack.enter_context(
            httpx.Client(base_url=base, timeout=30, event_hooks={"response": [answers]})
        )
        operator = _operator(db)
        run = Run(base, client, answers, {"Authorization": f"Bearer {operator}"})
        run.keep("operator token", operator)
        run.keep("database password", database_password)
        run.keep("secret key", key)
        run.keep("smpp password", smpp_password)
        run.keep("sms.by key", smsby.token)
        run.keep("infobip key", infobip.api_key)
        run.keep("eskiz password", eskiz.password)

        account, customer = _account(run, plan)
        created = _connectors(run, sms_center.port, smsby.url, infobip.url, eskiz.url)
        _webhooks(run, customer, receiver)
        wait_for(lambda: len(sms_center.binds) >= 2, timeout=30)  # refused once, then bound
        ids = _sends(run, customer)
        _errors(run, customer)
        _final(run, customer, ids)
        wrong = run.secrets["wrong sms.by key"].value
        wait_for(lambda: any(s.query.get("token") == wrong for s in smsby.seen), timeout=30)
        wait_for(lambda: len(receiver.calls("/hook")) >= 2 * len(ids), timeout=30)
        _listings(run, account, customer)
        for n, upstream_token in enumerate(sorted(eskiz.tokens)):
            run.keep(f"eskiz bearer token {n}", upstream_token)
        assert eskiz.tokens and smsby.sent and infobip.seen
        notify = [m["notifyUrl"] for m in infobip.seen[0].body["messages"]]
        eskiz_sends = [s for s in eskiz.seen if s.path.endswith("/send")]
        _callback_tokens(
            run,
            created,
            {"ib": notify[0], "eskiz": eskiz_sends[0].body["callback_url"]},
        )
    listing = _cli_listing(served_url, key, tmp_path)
    output = log.read_text("utf-8", "replace")
    _check_the_output_is_real(output, log_json)
    _check(run, output, listing)
    _check_database(db, [s.value for s in run.secrets.values() if "token" in s.name])


def _cli_listing(db_url: str, secret_key: str, home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    done = subprocess.run(
        [SMSGATE, "connectors", "list", "--json"],
        env={**env, "SMSGATE_DATABASE_URL": db_url, "SMSGATE_SECRET_KEY": secret_key},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "carrier" in done.stdout and '"has_secret": true' in done.stdout
    return done.stdout + done.stderr


def _check_the_output_is_real(output: str, log_json: bool) -> None:
    """The grep means something only if the output holds what the flow did, at DEBUG."""
    for expected in (
        "bind refused",  # smsgate's own log lines: SMPP
        "connector out of service",  # an upstream refused its key
        "upstream callback refused",  # a callback without its token
        "connect_tcp.started",  # httpcore, at DEBUG only
        "/api/v1/checkSMS?token=redacted&sms_id=redacted",  # httpx's request line, redacted
    ):
        assert expected in output, expected
    if log_json:
        events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert any(e.get("event") == "bind refused" for e in events)
        assert {e.get("level") for e in events} >= {"info", "warning"}
        # other libraries' records are JSON lines too, each whole (one write per line)
        assert any(str(e.get("logger", "")).startswith("httpcore") for e in events)
    else:
        assert "[warning  ] bind refused" in output


def _check(run: Run, output: str, listing: str) -> None:
    for secret in run.secrets.values():
        # the whole value, and a piece of it: a leak of part of a secret is a leak too
        needles = {secret.value, secret.value[len(secret.value) // 3 :][:8]}
        for needle in needles:
            assert needle not in output, f"{secret.name} in the logs"
            assert needle not in listing, f"{secret.name} in `connectors list`"
            for n, (label, text) in enumerate(run.answers.seen):
                if n not in secret.shown_in:
                    assert needle not in text, f"{secret.name} in the answer to {label}"
        for n in secret.shown_in:  # and it was shown where it should be: the check can fail
            assert secret.value in run.answers.seen[n][1]


def _check_database(db: Database, tokens: list[str]) -> None:
    """No API token in plain text anywhere: every text column of every table."""
    assert len(tokens) >= 3
    found: list[str] = []
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            if not columns:
                continue
            for row in session.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str) and any(t in value for t in tokens):
                        found.append(f"{table.name}.{column.name}")
        assert inspect(session.bind).has_table("api_tokens")
    assert found == []


# --- comparisons -----------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"token|secret|password|passwd|signature|api_?key|csrf", re.IGNORECASE)
# Comparisons that look like secret ones and are not, with why.
_NOT_SECRET = {
    # a new password and its confirmation, both typed by the caller in the same form
    ("dashboard/pages/_auth.py", "password != confirm"),
}


def _named(node: ast.AST) -> list[str]:
    names = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            names.append(n.id)
        elif isinstance(n, ast.Attribute):
            names.append(n.attr)
    return names


def _sql(node: ast.expr) -> bool:
    """``Model.column == value`` builds a WHERE clause (a lookup by hash is an index read, not
    a comparison an attacker can time); it is not Python comparing two strings."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id[:1].isupper()
    )


def test_secrets_are_compared_in_constant_time() -> None:
    """No ``==``/``!=`` on anything named like a secret in smsgate's code: such comparisons
    go through ``hmac.compare_digest``; API tokens are looked up by their SHA-256."""
    root = Path(str(smsgate.__file__)).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(_sql(o) for o in operands):
                continue
            if any(_SECRET_NAME.search(name) for o in operands for name in _named(o)):
                where = (path.relative_to(root).as_posix(), ast.unparse(node))
                if where not in _NOT_SECRET:
                    found.append(f"{where[0]}:{node.lineno}: {where[1]}")
    assert found == []


def test_the_token_table_holds_no_plaintext_token(db: Database, plan: str) -> None:
    customer = make_customer(db)
    with db.write() as session:
        _, operator_token = create_token(session, None, scope=TokenScope.OPERATOR)
        revoked, revoked_token = create_token(session, customer.account_id)
        revoke_token(session, revoked.id)
    plain = [customer.token, operator_token, revoked_token]
    with db.read() as session:
        rows = session.execute(select(ApiToken.__table__)).mappings().all()
    assert len(rows) == 3
    for row in rows:
        values = [str(v) for v in row.values() if v is not None]
        assert not [t for t in plain for v in values if t in v or t[10:] in v]
    # what is kept: the SHA-256 to look a token up by, and the 10 characters shown in lists
    by_hash = {row["token_hash"]: row for row in rows}
    for token in plain:
        row = by_hash[hashlib.sha256(token.encode()).hexdigest()]
        assert row["prefix"] == token[:10] and len(token) == 46
