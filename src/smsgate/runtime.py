"""Everything one process runs, wired together: database, send service, dispatcher."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from smsgate.accounts.auth import Authenticator, FailureLimits
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.dispatch.dispatcher import Dispatcher
from smsgate.limits.service import SharedLimits
from smsgate.messaging.service import SendService
from smsgate.webhooks.worker import WebhookWorker

log = structlog.get_logger(__name__)


class Runtime:
    def __init__(self, settings: Settings, *, dispatch: bool = True) -> None:
        self.settings = settings
        self.db = Database(settings.database_url, busy_seconds=settings.sqlite_busy_seconds)
        # failed authentications and dashboard sign-ins, counted for every process on the db
        self.limits = SharedLimits(self.db)
        self.auth = Authenticator(
            self.db,
            limits=FailureLimits(
                settings.auth_failures_per_address,
                settings.auth_failures_per_token,
                settings.auth_failure_window_seconds,
            ),
            shared=self.limits,
        )
        self.dispatcher: Dispatcher | None = None
        self.webhooks: WebhookWorker | None = None
        if dispatch:
            self.dispatcher = Dispatcher(self.db, settings)
            self.webhooks = WebhookWorker(self.db, settings)
        self.sends = SendService(
            self.db, settings, on_accept=self.dispatcher.wake if self.dispatcher else None
        )
        self._flusher: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()  # made again at each start, on the running loop

    async def start(self) -> None:
        await self.sends.start()
        if self.dispatcher is not None:
            await self.dispatcher.start()
        if self.webhooks is not None:
            await self.webhooks.start()
        self._stopping = asyncio.Event()
        self._flusher = asyncio.get_running_loop().create_task(self._flush_usage())

    async def stop(self) -> None:
        if self._flusher is not None:
            # Not cancelled: cancelling it while a flush runs on its thread would leave that
            # thread holding a connection past the pool's disposal below, and the connection
            # would go back to a pool nobody closes. It ends at its next wait instead.
            self._stopping.set()
            await self._flusher
        await self.sends.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.webhooks is not None:  # after the dispatcher, whose last writes queue events
            await self.webhooks.stop()
        await asyncio.to_thread(self.auth.flush_usage)
        self.db.dispose()

    async def _flush_usage(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 5)
            if self._stopping.is_set():
                return
            try:
                await asyncio.to_thread(self.auth.flush_usage)
            except Exception:
                log.exception("could not record token use")
