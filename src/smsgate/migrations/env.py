from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import smsgate.models  # noqa: F401  (registers every table)
from smsgate.db import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""


def run() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = create_engine(url)
        with engine.connect() as connection:
            _migrate(connection)
        engine.dispose()
    else:
        _migrate(connectable)


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
