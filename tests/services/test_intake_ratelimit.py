"""The token buckets: taking, waiting without taking, and forgetting full buckets."""

from __future__ import annotations

import pytest

from services.intake import ratelimit
from services.intake.ratelimit import RateLimiter


def test_a_burst_is_allowed_then_the_rate() -> None:
    limiter = RateLimiter()
    assert [limiter.take("k", 60, 2, 0.0) for _ in range(3)] == [0.0, 0.0, 1.0]
    assert limiter.take("k", 60, 2, 1.0) == 0.0


def test_wait_says_what_take_would_without_taking() -> None:
    limiter = RateLimiter()
    assert limiter.wait("k", 10, 1, 0.0) == 0.0  # never seen: free
    assert limiter.take("k", 10, 1, 0.0) == 0.0
    assert limiter.wait("k", 10, 1, 0.0) == limiter.wait("k", 10, 1, 0.0) == 6.0
    assert limiter.wait("k", 10, 1, 6.0) == 0.0
    assert limiter.take("k", 10, 1, 6.0) == 0.0  # the waits took nothing


def test_full_buckets_are_forgotten_once_there_are_too_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 3)
    limiter = RateLimiter()
    for key in ("a", "b", "c"):
        limiter.take(key, 60, 1, 0.0)
    limiter.take("d", 60, 1, 0.5)  # a, b, c are still refilling: kept
    assert limiter.wait("a", 60, 1, 0.5) > 0
    limiter.take("e", 60, 1, 5.0)  # all full again by now: dropped, as good as new
    assert len(limiter._buckets) == 1


def test_past_the_cap_the_buckets_are_not_rebuilt_on_every_new_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Past MAX_KEYS with none full (a guesser with many addresses), every new key copied them all:
    # quadratic, one O(n) copy per request on the intake's event loop.
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 100)
    limiter = RateLimiter()
    rebuilt, seen = 0, limiter._buckets
    for n in range(1000):
        limiter.take(f"addr-{n}", 60, 1, 0.0)  # none refills at time 0: none may be dropped
        rebuilt, seen = rebuilt + (limiter._buckets is not seen), limiter._buckets
    assert len(limiter._buckets) == 1000 and rebuilt <= 1000 // 50
