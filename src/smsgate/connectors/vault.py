"""Upstream credentials at rest: sealed with Fernet under ``SMSGATE_SECRET_KEY``.

A sealed value is stored as ``enc:v1:`` + a Fernet token (AES-128-CBC with HMAC-SHA256,
from ``cryptography``). Any other stored value was written before encryption existed: it is
read as it is (plain text) and sealed the next time it is written (``smsgate connectors
rekey``), so no data migration is needed.

Keys. ``SMSGATE_SECRET_KEY`` holds one or more Fernet keys separated by commas: the first
seals, every one opens (``MultiFernet``), which is how a key is rotated. When it is unset and
the database is a SQLite file (the embedded default), the key lives in a file beside the
database (``smsgate.db.key``), created once with mode 0600; on any other database an unset
key is an error, since a key kept beside a shared database would protect nothing.
"""

from __future__ import annotations

import os
import stat
import tempfile
from functools import lru_cache
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import make_url

from smsgate.config import Settings
from smsgate.errors import Unavailable

log = structlog.get_logger(__name__)
PREFIX = "enc:v1:"


class SecretKeyError(Unavailable):
    """The key is missing, malformed, or not the one a value was sealed with."""

    code = "secret_key"


class Vault:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise SecretKeyError("SMSGATE_SECRET_KEY holds no key")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError:
            raise SecretKeyError(
                "SMSGATE_SECRET_KEY must be Fernet keys (32 url-safe base64-encoded bytes), "
                "separated by commas"
            ) from None

    def seal(self, plain: str) -> str:
        """The stored form of ``plain``; an empty value stays empty (nothing to hide)."""
        if not plain:
            return ""
        return PREFIX + self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, stored: str) -> str:
        """The plain value of a stored one (sealed, or plain from before encryption)."""
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretKeyError(
                "a stored credential cannot be decrypted with SMSGATE_SECRET_KEY: the key that "
                "sealed it is not among the configured keys"
            ) from None

    def reseal(self, stored: str) -> str:
        """Sealed under the first key: plain values are sealed, others rotated."""
        if not is_sealed(stored):
            return self.seal(stored)
        try:
            token = self._fernet.rotate(stored[len(PREFIX) :].encode("ascii"))
        except InvalidToken:
            raise SecretKeyError(
                "a stored credential cannot be decrypted with SMSGATE_SECRET_KEY"
            ) from None
        return PREFIX + token.decode("ascii")


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def vault_for(settings: Settings) -> Vault:
    return vault_at(settings.database_url, settings.secret_key.get_secret_value())


@lru_cache(maxsize=16)
def vault_at(database_url: str, secret_key: str) -> Vault:
    """The vault of a database: the configured keys, else the key file beside SQLite."""
    keys = [k.strip().encode("ascii", "replace") for k in secret_key.split(",") if k.strip()]
    if keys:
        return Vault(keys)
    path = key_file(database_url)
    if path is None:
        raise SecretKeyError(
            "SMSGATE_SECRET_KEY is not set: connector credentials cannot be encrypted. "
            'Generate one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        )
    return Vault([read_or_create_key(path)])


def key_file(database_url: str) -> Path | None:
    """Where the embedded default keeps its key: beside the SQLite file, else nowhere."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    database = Path(url.database)
    return database.with_name(database.name + ".key")


def read_or_create_key(path: Path) -> bytes:
    """The key in ``path``, made there first (mode 0600) if there is none."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    # Write a private temporary file and link it into place: a concurrent process (the CLI
    # beside `serve`) either wins the link or reads the complete file the other one linked.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    temporary = Path(name)
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return _read(path)
    finally:
        temporary.unlink()
    log.warning(
        "generated the secret key that encrypts connector credentials; back it up with the "
        "database (without it they cannot be read)",
        key_file=str(path),
    )
    return key


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the secret key file is readable by others", key_file=str(path))
    key = path.read_bytes().strip()
    if not key:
        raise SecretKeyError(f"the secret key file {path} is empty")
    return key
