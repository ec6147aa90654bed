"""What every CRM connector shares: a request budget, retries with backoff, a circuit breaker.

A connector wraps each HTTP call in ``Guard.call``. The guard
- waits for a slot in the rolling request window (HubSpot: 190 per 10 s) and the daily budget;
- retries what the connector raised as retriable (timeouts, 5xx, Throttled), with capped
  exponential backoff and full jitter, honouring a server's Retry-After;
- opens a circuit breaker after consecutive failures, so a CRM that is down is not hammered,
  and lets one probe through after ``breaker_reset`` seconds.
Fatal errors (400, 404, a rejected field) pass straight through: retrying cannot fix them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from connectors.errors import CrmUnavailable, RetriableConnectorError, Throttled

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """One CRM account's budget and failure policy (from deploy/config/crm.yaml)."""

    requests: int = 190  # per window, as the vendor counts them
    window_seconds: float = 10.0
    daily: int | None = None  # requests per UTC day; None: not enforced client-side
    concurrency: int = 4  # requests in flight at once
    timeout_seconds: float = 20.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    breaker_failures: int = 5  # consecutive failures that open the breaker
    breaker_reset_seconds: float = 30.0  # open this long before one probe is let through

    def share(self, fraction: float) -> Limits:
        """This process's part of the account's budget, when several processes call one account:
        HubSpot and Salesforce count requests per account, not per client."""
        if fraction >= 1.0:
            return self
        daily = max(1, int(self.daily * fraction)) if self.daily is not None else None
        return replace(self, requests=max(1, int(self.requests * fraction)), daily=daily)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Observer(Protocol):
    """Where a guard reports what happened (metrics); every method must be cheap and never raise."""

    def call(self, crm: str, op: str, outcome: str) -> None: ...

    def breaker(self, crm: str, state: BreakerState) -> None: ...


class _Quiet:
    def call(self, crm: str, op: str, outcome: str) -> None:
        return None

    def breaker(self, crm: str, state: BreakerState) -> None:
        return None


def full_jitter(attempt: int, base: float, cap: float) -> float:
    """AWS's "full jitter": uniform in [0, min(cap, base * 2^attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))


class RollingWindow:
    """At most ``limit`` requests in any ``window`` seconds, as the server counts them.

    A slot is given back ``window`` seconds after its request *finished*: the server saw it
    arrive no later than that, so however long requests take in flight, the server never
    counts more than ``limit`` in a window. (A token bucket allows up to twice the limit in
    one window, which is why this is not aiolimiter.)
    """

    def __init__(self, limit: int, window: float) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._window = window
        self._paused_until = 0.0

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        delay = self._paused_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def __aexit__(self, *exc: object) -> None:
        asyncio.get_running_loop().call_later(self._window, self._slots.release)

    def pause(self, seconds: float) -> None:
        """The server asked for a pause (Retry-After): nobody starts a request before it ends."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)


class DailyBudget:
    """Requests left today (UTC); a connector that reads the vendor's own count corrects it."""

    def __init__(self, limit: int | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.limit, self._now = limit, now
        self._day = now().date()
        self.used = 0

    def take(self) -> None:
        today = self._now().date()
        if today != self._day:
            self._day, self.used = today, 0
        if self.limit is not None and self.used >= self.limit:
            midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
            raise CrmUnavailable("daily API budget spent", (midnight - self._now()).total_seconds())
        self.used += 1

    def observe(self, used: int, limit: int) -> None:
        """The vendor's own figures (Salesforce's Sforce-Limit-Info: api-usage=used/limit)."""
        self.used, self.limit = used, limit


class CircuitBreaker:
    def __init__(self, failures: int, reset: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold, self._reset, self._clock = failures, reset, clock
        self._failures = 0
        self._since = 0.0  # when it opened, or when the last probe was let through
        self.state = BreakerState.CLOSED

    def check(self) -> None:
        """Raise CrmUnavailable while open; every ``reset`` seconds let one probe through."""
        if self.state is BreakerState.CLOSED:
            return
        waited = self._clock() - self._since
        if waited >= self._reset:
            # Also when a probe never reported back (cancelled): another one may go.
            self.state, self._since = BreakerState.HALF_OPEN, self._clock()
            return
        raise CrmUnavailable("circuit open: the CRM keeps failing", max(0.1, self._reset - waited))

    def success(self) -> None:
        self._failures = 0
        self.state = BreakerState.CLOSED

    def failure(self) -> None:
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self.state, self._since = BreakerState.OPEN, self._clock()


class Guard:
    """Budget, retries and breaker for one CRM account; share one per account across callers."""

    def __init__(self, crm: str, limits: Limits, observer: Observer | None = None) -> None:
        self.crm, self.limits = crm, limits
        self.window = RollingWindow(limits.requests, limits.window_seconds)
        self.daily = DailyBudget(limits.daily)
        self.breaker = CircuitBreaker(limits.breaker_failures, limits.breaker_reset_seconds)
        self._in_flight = asyncio.Semaphore(limits.concurrency)
        self._observer = observer or _Quiet()

    async def call(self, op: str, request: Callable[[], Awaitable[T]]) -> T:
        """Run ``request`` within the budget, retrying what is retriable; ``op`` names it for metrics."""
        limits = self.limits
        for attempt in range(1, limits.max_attempts + 1):
            self._check_breaker()
            try:
                async with self._in_flight, self.window:
                    self.daily.take()
                    result = await asyncio.wait_for(request(), limits.timeout_seconds)
            except Throttled as exc:
                # A 429 says the budget is shared with someone else: pause everyone, not just us.
                self._observer.call(self.crm, op, "throttled")
                pause = exc.retry_after if exc.retry_after is not None else full_jitter(attempt, 1.0, 10.0)
                self.window.pause(pause)
                if attempt == limits.max_attempts:
                    raise
                continue
            except (RetriableConnectorError, TimeoutError) as exc:
                if isinstance(exc, CrmUnavailable):
                    raise
                self._observer.call(self.crm, op, "timeout" if isinstance(exc, TimeoutError) else "error")
                self._failed()
                if attempt == limits.max_attempts:
                    if isinstance(exc, TimeoutError):
                        raise RetriableConnectorError(f"{self.crm} {op}: timed out") from exc
                    raise
                await asyncio.sleep(full_jitter(attempt, limits.backoff_base, limits.backoff_cap))
                continue
            except Exception:
                # Fatal: the CRM answered (so it is up) but will never accept this request.
                self._observer.call(self.crm, op, "rejected")
                self._succeeded()
                raise
            self._observer.call(self.crm, op, "ok")
            self._succeeded()
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _check_breaker(self) -> None:
        before = self.breaker.state
        self.breaker.check()
        if self.breaker.state is not before:
            self._observer.breaker(self.crm, self.breaker.state)

    def _failed(self) -> None:
        before = self.breaker.state
        self.breaker.failure()
        if self.breaker.state is not before:
            self._observer.breaker(self.crm, self.breaker.state)

    def _succeeded(self) -> None:
        if self.breaker.state is not BreakerState.CLOSED:
            self.breaker.success()
            self._observer.breaker(self.crm, self.breaker.state)
        else:
            self.breaker.success()
