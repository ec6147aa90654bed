"""Reload the config while running: on SIGHUP and when a file in the config directory changes.

A new config is applied only when it is whole and valid; otherwise the running one stays and
the refusal is logged with every problem. Applying is one assignment on the container, which
the consumers read per message (``Container.current_config``) and the intake per request, so no
request waits and none sees half a config.

File changes are watched with watchfiles (inotify on Linux, polling elsewhere): edits appear
within about a second and nothing is read while nothing changes. A Kubernetes ConfigMap volume
swaps a symlink when it changes, which the directory watch sees too; the content hash decides
whether anything really changed, so a touch or an editor's temporary file applies nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import awatch

from schemas.config import LeadflowConfig
from services import metrics
from services.config import ConfigError, config_version, load_config
from services.logs import get_logger

log = get_logger(component="reload")

Apply = Callable[[LeadflowConfig], Awaitable[None]]


class ConfigReloader:
    def __init__(self, directory: Path, current: Callable[[], LeadflowConfig], apply: Apply) -> None:
        self._directory, self._current, self._apply = directory, current, apply
        self._lock = asyncio.Lock()  # a signal and a file change at once load once
        self._refused: str | None = None

    async def reload(self, reason: str) -> bool:
        """Load and apply the directory's config if it changed and is valid; True if applied."""
        async with self._lock:
            try:
                version = await asyncio.to_thread(config_version, self._directory)
            except OSError as exc:
                log.error("config_reload_refused", reason=reason, error=exc.__class__.__name__)
                metrics.config_reload("refused")
                return False
            previous = self._current().version
            if version == previous or version == self._refused:
                return False
            try:
                config = await asyncio.to_thread(load_config, self._directory)
            except ConfigError as exc:
                self._refused = version  # said once per content, not once per event
                log.error(
                    "config_reload_refused",
                    reason=reason,
                    config_version=version,
                    running_version=previous,
                    problems=[str(p) for p in exc.problems],
                )
                metrics.config_reload("refused")
                return False
            await self._apply(config)
            self._refused = None
            log.info("config_reloaded", reason=reason, config_version=config.version, previous=previous)
            metrics.config_reload("applied")
            return True

    async def run(self, stop: asyncio.Event) -> None:
        """Watch the directory and SIGHUP until ``stop`` is set."""
        hangup = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, hangup.set)  # main thread, Unix only
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._on_signal(hangup, stop))
                group.create_task(self._on_change(stop))
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)

    async def _on_signal(self, hangup: asyncio.Event, stop: asyncio.Event) -> None:
        while not stop.is_set():
            waiter = asyncio.create_task(hangup.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            if hangup.is_set():
                hangup.clear()
                await self._safely("SIGHUP")

    async def _on_change(self, stop: asyncio.Event) -> None:
        try:
            async for _ in awatch(self._directory, stop_event=stop, debounce=300, step=50, recursive=False):
                await self._safely("file change")
        except OSError as exc:  # e.g. out of inotify watches: SIGHUP still reloads
            log.error("config_watch_unavailable", error=exc.__class__.__name__)

    async def _safely(self, reason: str) -> None:
        try:
            await self.reload(reason)
        except Exception:
            # A reload must never take the service down: the running config stays.
            log.exception("config_reload_failed", reason=reason)
            metrics.config_reload("failed")
