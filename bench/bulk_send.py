"""Bulk: one sending of N recipients, priced, charged and queued; seconds and peak memory.

    python -m bench.bulk_send [--recipients 100000] [--database-url URL]

Runs in-process against a fresh SQLite file (or the URL given) through the same service the
API calls (`SendService.send_now`), and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from tests.support.factories import make_customer, make_plan

from smsgate.config import Settings
from smsgate.db import Database
from smsgate.messaging.prepare import SendRequest
from smsgate.messaging.service import SendService
from smsgate.migrations import upgrade
from smsgate.numbering import InvalidNumber, normalize


def numbers(count: int) -> list[str]:
    """Distinct valid Latvian and Uzbek mobile numbers."""
    rng = random.Random(7)
    picked: set[str] = set()
    while len(picked) < count:
        if rng.random() < 0.5:
            candidate = f"+3712{rng.randrange(10**7):07d}"
        else:
            candidate = f"+99890{rng.randrange(10**7):07d}"
        try:
            normalize(candidate)
        except InvalidNumber:
            continue
        picked.add(candidate)
    return sorted(picked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bulk.db'}"
    print(f"migrating {url} ...", file=sys.stderr)
    upgrade(url)
    db = Database(url)
    make_plan(db)
    customer = make_customer(db, balance=Decimal(10**9))
    recipients = numbers(args.recipients)
    settings = Settings(database_url=url, max_recipients=max(args.recipients, 1))
    service = SendService(db, settings)
    print(f"sending to {len(recipients)} recipients ...", file=sys.stderr)
    started = time.perf_counter()
    accepted = service.send_now(
        SendRequest(
            account_id=customer.account_id,
            recipients=recipients,
            text="bulk benchmark",
            sender=customer.sender,
            as_sending=True,
            want_messages=False,
        )
    )
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "recipients": accepted.count,
                "seconds": round(seconds, 2),
                "per_second": round(accepted.count / seconds),
                "peak_rss_mb": round(peak_mb),
                "database": url.split(":")[0],
            }
        )
    )
    db.dispose()


if __name__ == "__main__":
    main()
