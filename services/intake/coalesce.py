"""Many concurrent requests, one store statement: what arrives while a call is in flight goes
in the next call together (group commit). Alone, an item goes at once: no timer, no added wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """``await submit(item)`` gives ``run``'s result for that item; ``run`` takes a list of items
    and returns one result per item, in order. One call is in flight at a time.

    When a call fails, each of its items is tried again alone (concurrently), so one bad item
    (say, an id too long for its column) fails only its own request, and a lone item survives a
    connection the server had dropped (the first statement on it fails; the retry gets a new one).
    """

    def __init__(self, run: Callable[[Sequence[T]], Awaitable[Sequence[R]]], max_batch: int = 500) -> None:
        self._run = run
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._call(batch)
        finally:
            self._task = None
            for _, future in self._pending:  # only when cancelled (shutdown): nobody will run them
                future.cancel()
            self._pending.clear()

    async def _call(self, batch: list[tuple[T, asyncio.Future[R]]], retry: bool = True) -> None:
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except Exception as exc:
            if not retry:
                _settle(batch[0][1], exc)
                return
            await asyncio.gather(*(self._call([one], retry=False) for one in batch))
            return
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its request was cancelled meanwhile
                future.set_result(result)


def _settle(future: asyncio.Future[R], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
