"""The Guard's parts: breaker, daily budget, rolling window, retries (clocks injected, no timing asserts)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from connectors.crm.resilience import (
    BreakerState,
    CircuitBreaker,
    DailyBudget,
    Guard,
    Limits,
    RollingWindow,
    full_jitter,
)
from connectors.errors import CrmUnavailable, FatalConnectorError, RetriableConnectorError, Throttled

QUICK = Limits(requests=100, window_seconds=0.01, max_attempts=3, backoff_base=0.001, backoff_cap=0.002,
               breaker_failures=2, breaker_reset_seconds=60)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_full_jitter_stays_within_the_capped_exponential() -> None:
    for attempt in range(1, 12):
        for _ in range(50):
            assert 0 <= full_jitter(attempt, 0.5, 30.0) <= min(30.0, 0.5 * 2**attempt)


def test_the_breaker_opens_after_consecutive_failures_and_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, reset=30, clock=clock)
    breaker.failure()
    breaker.failure()
    breaker.check()  # still closed
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CrmUnavailable) as opened:
        breaker.check()
    assert opened.value.retry_after == pytest.approx(30)
    clock.now = 31
    breaker.check()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.failure()  # the probe failed: open again at once
    assert breaker.state is BreakerState.OPEN
    clock.now = 62
    breaker.check()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failures=2, reset=30, clock=Clock())
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state is BreakerState.CLOSED


def test_the_daily_budget_stops_at_the_limit_until_the_next_utc_day() -> None:
    now = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    budget = DailyBudget(2, now=lambda: now)
    budget.take()
    budget.take()
    with pytest.raises(CrmUnavailable) as spent:
        budget.take()
    assert spent.value.retry_after == pytest.approx(3600)
    now += timedelta(hours=2)
    budget.take()  # a new day
    assert budget.used == 1


def test_the_vendor_count_corrects_the_budget() -> None:
    budget = DailyBudget(None)
    budget.observe(used=99, limit=100)
    budget.take()
    with pytest.raises(CrmUnavailable):
        budget.take()


async def test_the_rolling_window_holds_the_next_request_until_a_slot_comes_back() -> None:
    window = RollingWindow(limit=2, window=0.05)
    for _ in range(2):
        async with window:
            pass
    third = asyncio.create_task(window.__aenter__())
    await asyncio.sleep(0)
    assert not third.done(), "a third request inside the window must wait"
    await third  # the first slot comes back one window after its request finished
    await window.__aexit__(None, None, None)


async def test_the_guard_retries_a_throttled_call_and_pauses_everyone() -> None:
    guard = Guard("crm", QUICK)
    calls = 0

    async def request() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Throttled("429", retry_after=0.01)
        return "ok"

    assert await guard.call("op", request) == "ok"
    assert calls == 2
    assert guard.breaker.state is BreakerState.CLOSED  # a 429 is not the CRM failing


async def test_the_guard_passes_fatal_errors_through_without_retrying() -> None:
    guard = Guard("crm", QUICK)
    calls = 0

    async def request() -> None:
        nonlocal calls
        calls += 1
        raise FatalConnectorError("400")

    with pytest.raises(FatalConnectorError):
        await guard.call("op", request)
    assert calls == 1


async def test_the_guard_gives_up_after_its_attempts_and_the_breaker_then_refuses_at_once() -> None:
    guard = Guard("crm", QUICK)
    calls = 0

    async def request() -> None:
        nonlocal calls
        calls += 1
        raise RetriableConnectorError("503")

    with pytest.raises(CrmUnavailable):  # two failures open the breaker before the third attempt
        await guard.call("op", request)
    assert calls == 2
    with pytest.raises(CrmUnavailable):
        await guard.call("op", request)
    assert calls == 2, "an open breaker does not call the CRM"
