"""Replaying every migration gives exactly the schema the models describe; a database
already at the heads is left alone without alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import smsgate.models  # noqa: F401
from smsgate.db import Base
from smsgate.migrations import HEADS, alembic_config, applied_revisions, upgrade


def test_migrations_match_models(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_the_heads_the_code_knows_are_alembics() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert frozenset(scripts.get_heads()) == HEADS, "add the new migration to HEADS"


def test_a_database_at_the_heads_is_not_migrated_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert applied_revisions(url) is None  # nothing there yet
    upgrade(url)
    assert applied_revisions(url) == HEADS
    # a process starting on it never imports alembic
    code = f"import sys; from smsgate.migrations import upgrade; upgrade({url!r}); "
    code += "print(sorted(m for m in sys.modules if m.startswith('alembic')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_a_database_behind_the_heads_is_brought_up_to_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    scripts = ScriptDirectory.from_config(alembic_config(url))
    (head,) = HEADS
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    command.downgrade(alembic_config(url), previous)
    assert applied_revisions(url) == {previous}
    upgrade(url)
    assert applied_revisions(url) == HEADS
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
