"""Upstream credentials at rest: sealed with Fernet, opened only by the connector factory,
never shown by the CLI or the admin API; plain rows from before read as they are and sealed
by ``connectors rekey``; the embedded default's key file; key rotation."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from smsgate.accounts.models import TokenScope
from smsgate.accounts.service import create_token
from smsgate.config import Settings
from smsgate.connectors.http.devsms import DevsmsProvider
from smsgate.connectors.models import ConnectorConfig
from smsgate.connectors.registry import (
    add_connector,
    build,
    list_connectors,
    new_callback_url,
    public_view,
    rekey,
)
from smsgate.connectors.smpp.client import SmppConnector
from smsgate.connectors.vault import (
    PREFIX,
    SecretKeyError,
    Vault,
    key_file,
    read_or_create_key,
    vault_at,
)
from smsgate.db import Database
from smsgate.errors import InvalidRequest
from tests.support.cli import smsgate as forked


def test_a_sealed_value_opens_only_with_its_key() -> None:
    key, other = Fernet.generate_key(), Fernet.generate_key()
    vault = Vault([key])
    sealed = vault.seal("api-key-123")
    assert sealed.startswith(PREFIX) and "api-key-123" not in sealed
    assert vault.seal("api-key-123") != sealed  # a fresh IV every time
    assert vault.open(sealed) == "api-key-123"
    assert vault.seal("") == ""
    assert vault.open("plain-from-before") == "plain-from-before"
    with pytest.raises(SecretKeyError, match="cannot be decrypted"):
        Vault([other]).open(sealed)
    with pytest.raises(SecretKeyError, match="Fernet keys"):
        Vault([b"not-a-key"])


def test_rotation_opens_with_the_old_key_and_reseals_under_the_new() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = Vault([old]).seal("s3cret")
    both = Vault([new, old])
    assert both.open(sealed) == "s3cret"
    resealed = both.reseal(sealed)
    assert Vault([new]).open(resealed) == "s3cret"
    with pytest.raises(SecretKeyError):
        Vault([old]).open(resealed)
    assert Vault([new]).open(both.reseal("plain")) == "plain"


def test_the_embedded_default_keeps_its_key_in_a_private_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'smsgate.db'}"
    path = key_file(url)
    assert path == tmp_path / "smsgate.db.key"
    sealed = vault_at(url, "").seal("pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    vault_at.cache_clear()  # another process: it reads the same file
    assert vault_at(url, "").open(sealed) == "pw"
    assert key_file("postgresql+psycopg://u@127.0.0.1/db") is None
    assert key_file("sqlite://") is None
    with pytest.raises(SecretKeyError, match="SMSGATE_SECRET_KEY is not set"):
        vault_at("postgresql+psycopg://u@127.0.0.1/db", "")


def test_processes_creating_the_key_file_at_once_agree(tmp_path: Path) -> None:
    path = tmp_path / "race.db.key"
    keys: list[bytes] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        keys.append(read_or_create_key(path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert path.read_bytes().strip() == keys[0]
    assert [p.name for p in tmp_path.iterdir()] == ["race.db.key"]  # no temporary left


def _stored(db: Database, name: str) -> ConnectorConfig:
    with db.read() as s:
        return s.scalars(select(ConnectorConfig).where(ConnectorConfig.name == name)).one()


def test_the_factory_alone_opens_what_is_stored(db: Database, settings: Settings) -> None:
    with db.write() as s:
        add_connector(
            s,
            "carrier",
            "smpp",
            {"host": "127.0.0.1", "port": 2775, "system_id": "acme"},
            "pw12",
            settings=settings,
        )
        dev = add_connector(
            s,
            "dev",
            "devsms",
            {
                "base_url": "https://devsms.uz",
                "callback_url": "https://gw.example/v1/callbacks/dev",
            },
            "devsms-token",
            settings=settings,
        )
        url = new_callback_url(dev, settings)
        add_connector(s, "sim", "simulator", {"delay": 0.1}, settings=settings)
        with pytest.raises(InvalidRequest, match="set by smsgate"):
            add_connector(s, "x", "devsms", {"base_url": "u", "callback_token": "mine"}, "t")
    assert url is not None and url.startswith("https://gw.example/v1/callbacks/dev/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 32

    stored = {n: _stored(db, n) for n in ("carrier", "dev", "sim")}
    assert stored["carrier"].secret.startswith(PREFIX) and stored["dev"].secret.startswith(PREFIX)
    assert json.loads(stored["dev"].options)["callback_token"].startswith(PREFIX)
    assert (stored["sim"].secret, "callback_token" in stored["sim"].options) == ("", False)
    for config in stored.values():
        text = config.secret + config.options
        assert not any(s in text for s in ("pw12", "devsms-token", token))

    smpp = build(stored["carrier"], settings)
    assert isinstance(smpp, SmppConnector) and smpp.settings.password == "pw12"
    provider = build(stored["dev"], settings)
    assert isinstance(provider, DevsmsProvider)
    assert (provider.secret, provider.callback_url) == ("devsms-token", url)
    assert "callback_token" not in provider.options

    with db.read() as s:
        views = [public_view(c) for c in list_connectors(s)]
    assert [v["has_secret"] for v in views] == [True, True, False]
    assert not any(x in json.dumps(views) for x in ("pw12", "devsms-token", token, PREFIX))


# A sealed value is URL-safe base64, which has no "." or "!": a short plain secret could
# otherwise turn up inside the ciphertext by chance (it did, once in about 40 runs).
OLD_SECRET = "tk.old!"


def test_plain_rows_from_before_are_read_then_sealed_by_rekey(
    db: Database, settings: Settings
) -> None:
    with db.write() as s:  # as written before encryption existed: no service writes these
        s.add(
            ConnectorConfig(
                name="old", kind="devsms", options='{"base_url": "u"}', secret=OLD_SECRET
            )
        )
    old = build(_stored(db, "old"), settings)
    assert isinstance(old, DevsmsProvider) and (old.secret, old.callback_url) == (OLD_SECRET, "")
    public = settings.model_copy(update={"public_url": "https://gw.example"})
    with db.write() as s:
        (issued,) = rekey(s, public)
    name, url = issued
    assert name == "old" and url.startswith("https://gw.example/v1/callbacks/old/")
    row = _stored(db, "old")
    assert row.secret.startswith(PREFIX) and OLD_SECRET not in row.secret
    again = build(row, public)
    assert isinstance(again, DevsmsProvider) and (again.secret, again.callback_url) == (
        OLD_SECRET,
        url,
    )

    # rotation: the new key first, the old one after it, rekey, then the old one can go
    new = Fernet.generate_key().decode()
    old_key = settings.secret_key.get_secret_value()
    rotating = Settings(**{**settings.model_dump(), "secret_key": f"{new},{old_key}"})
    with db.write() as s:
        assert rekey(s, rotating) == []  # everything had a token already
    only_new = Settings(**{**settings.model_dump(), "secret_key": new})
    rotated = build(_stored(db, "old"), only_new)
    assert isinstance(rotated, DevsmsProvider) and rotated.secret == OLD_SECRET
    with pytest.raises(SecretKeyError):
        build(_stored(db, "old"), settings)


def test_the_cli_and_the_admin_api_never_show_a_credential(
    db: Database, settings: Settings, db_url: str, tmp_path: Path, client: httpx.Client
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    env |= {
        "SMSGATE_DATABASE_URL": db_url,
        "SMSGATE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "SMSGATE_PUBLIC_URL": "https://gw.example",
    }

    def cli(*args: str) -> str:
        done = forked(["connectors", *args], env=env, cwd=tmp_path)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return done.stdout

    added = cli(
        "add",
        "--name",
        "dev",
        "--kind",
        "devsms",
        "--option",
        "base_url=https://x.uz",
        "--secret",
        "cli-secret-1",
    )
    (line,) = [x for x in added.splitlines() if "callback URL" in x]
    url = line.rsplit(" ", 1)[1]
    assert url.startswith("https://gw.example/v1/callbacks/dev/")
    token = url.rsplit("/", 1)[1]
    with db.write() as s:
        _, operator = create_token(s, None, scope=TokenScope.OPERATOR)
    op = {"Authorization": f"Bearer {operator}"}
    made = client.post(
        "/v1/admin/connectors",
        headers=op,
        json={
            "name": "ib",
            "kind": "infobip",
            "options": {"base_url": "https://x"},
            "secret": "api-secret-2",
        },
    )
    assert made.status_code == 201, made.text
    api_url = made.json()["callback_url"]  # shown this once
    assert api_url.startswith("/v1/callbacks/ib/")  # the test server has no public URL
    assert "api-secret-2" not in made.text

    listing = cli("list", "--json")  # the plain listing prints the same public view
    listed = client.get("/v1/admin/connectors", headers=op)
    assert listed.status_code == 200
    assert {c["callback_url"] for c in listed.json()["connectors"]} == {None}
    shown = listing + listed.text
    for needle in ("cli-secret-1", "api-secret-2", token, api_url.rsplit("/", 1)[1], PREFIX):
        assert needle not in shown

    rekeyed = cli("rekey")
    assert "sealed" in rekeyed and token not in rekeyed  # tokens stay; none is shown again
    assert isinstance(build(_stored(db, "dev"), settings), DevsmsProvider)
