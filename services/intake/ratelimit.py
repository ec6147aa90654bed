"""Token buckets per key (a source; a client address's failed credentials): a burst is allowed,
the sustained rate is capped."""

from __future__ import annotations

from dataclasses import dataclass

MAX_KEYS = 10_000  # past this many buckets, the full ones (no different from none) are dropped


@dataclass
class _Bucket:
    tokens: float
    at: float
    full_at: float  # when it is back to its burst: from then on it is as good as forgotten


class RateLimiter:
    """In-process limits (each intake replica enforces its share; put a shared limit at the edge).

    ``take`` returns 0 when allowed, else the seconds to wait before a token is free; ``wait``
    says the same without taking one (a check before the work that would cost a token).
    """

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        # Pruning copies every bucket: past the cap, wait for MAX_KEYS // 2 new keys between two
        # (with none full, pruning on every new key made each request cost O(keys)).
        self._prune_at = MAX_KEYS

    def take(self, key: str, rate_per_minute: int, burst: int, now: float) -> float:
        bucket = self._bucket(key, rate_per_minute, burst, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.full_at = now + (burst - bucket.tokens) * 60 / rate_per_minute
            return 0.0
        return (1 - bucket.tokens) * 60 / rate_per_minute

    def wait(self, key: str, rate_per_minute: int, burst: int, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = _refilled(bucket, rate_per_minute, burst, now)
        return 0.0 if tokens >= 1 else (1 - tokens) * 60 / rate_per_minute

    def _bucket(self, key: str, rate_per_minute: int, burst: int, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._prune_at:  # keys from client addresses are unbounded
                self._buckets = {k: b for k, b in self._buckets.items() if b.full_at > now}
                self._prune_at = max(MAX_KEYS, len(self._buckets) + MAX_KEYS // 2)
            bucket = self._buckets[key] = _Bucket(float(burst), now, now)
        bucket.tokens = _refilled(bucket, rate_per_minute, burst, now)
        bucket.at = now
        return bucket


def _refilled(bucket: _Bucket, rate_per_minute: int, burst: int, now: float) -> float:
    """The bucket's tokens at ``now``: what it held, plus the rate since, up to the burst."""
    return min(float(burst), bucket.tokens + (now - bucket.at) * rate_per_minute / 60)
