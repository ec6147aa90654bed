"""Per-config memos: built once per config object, rebuilt for a new one, bounded."""

from __future__ import annotations

from services.core.memo import Bounded, per_config


class Config:
    def __init__(self, value: int) -> None:
        self.value = value


def test_built_once_per_config_object() -> None:
    built: list[int] = []

    @per_config
    def double(config: Config) -> int:
        built.append(config.value)
        return config.value * 2

    first = Config(1)
    assert double(first) == 2 and double(first) == 2
    assert built == [1]
    assert double(Config(5)) == 10  # a reload makes a new object: rebuilt, never stale
    assert built == [1, 5]


def test_keeps_a_few_configs_only() -> None:
    built: list[int] = []

    @per_config
    def ident(config: Config) -> int:
        built.append(config.value)
        return config.value

    configs = [Config(i) for i in range(20)]
    assert [ident(c) for c in configs] == list(range(20))
    assert ident(configs[-1]) == 19 and len(built) == 20  # the latest is still held
    assert ident(configs[0]) == 0 and len(built) == 21  # the oldest was let go, so rebuilt


def test_bounded_forgets_everything_when_full() -> None:
    memo = Bounded(limit=2)
    memo.remember("a", 1)
    memo.remember("b", 2)
    assert memo.remember("c", 3) == 3
    assert dict(memo) == {"c": 3}
