"""Alembic migrations, run by ``smsgate serve`` and ``smsgate db upgrade``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported when a migration runs, not with this module: the CLI imports it for
# every command, and alembic is a fifth of the CLI's start-up time.

# The revisions this code's schema is at: alembic's heads. A process that finds its database
# already there skips alembic altogether, whose import and migration context are about half
# a second of every start of `smsgate serve`, `smsgate worker` and each CLI command.
# tests/test_migrations.py checks that this is what alembic reads from the scripts, so a new
# migration that is not added here fails the suite.
HEADS = frozenset({"numbers0001"})


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "smsgate:migrations")
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def applied_revisions(url: str) -> frozenset[str] | None:
    """The revisions recorded in the database, or None where it has no record of any (a new
    database, or one alembic never touched)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return frozenset(rows)
    except DBAPIError:  # no alembic_version table: alembic creates it
        return None
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "heads") -> None:
    if revision == "heads" and applied_revisions(url) == HEADS:
        return
    from alembic import command

    command.upgrade(alembic_config(url), revision)
