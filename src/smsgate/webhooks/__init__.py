"""Signed status callbacks to customers (see ``docs/webhooks.md``).

    events.py    payloads, inserted in the transaction of the status change (the outbox)
    models.py    webhook_deliveries and webhook_attempts
    outbox.py    claiming due deliveries under a lease, recording attempts
    worker.py    the asyncio loop that posts them (one httpx client, bounded concurrency)
    signing.py   secrets and the HMAC-SHA256 signature
    ssrf.py      which addresses a callback may reach, checked when connecting
    service.py   the customer's settings, delivery log and replay (scoped by account)

Kept free of imports here: ``messaging.prepare`` imports ``ssrf`` on the hot path.
"""
