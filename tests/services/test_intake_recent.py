"""The intake's memory of what it published lately: found by source and id, forgotten in
generations, free for the garbage collector."""

from __future__ import annotations

import gc

from services.intake.recent import RecentDeliveries


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_delivery_is_found_by_its_source_and_id_only() -> None:
    recent = RecentDeliveries(ttl=60, maxsize=100, clock=Clock())
    recent.put("typeform", "e1", "d1")
    assert recent.get("typeform", "e1") == "d1"
    assert recent.get("hubspot", "e1") is None
    assert recent.get("typeform", "e2") is None
    recent.put("typeform", "e1", "d2")
    assert recent.get("typeform", "e1") == "d2"


def test_an_entry_lives_at_least_the_ttl_and_at_most_twice_it() -> None:
    clock = Clock()
    recent = RecentDeliveries(ttl=60, maxsize=100, clock=clock)
    recent.put("web", "old", "d")
    clock.now = 59
    recent.put("web", "kept", "d")
    assert recent.get("web", "old") == "d"
    clock.now = 61  # the first generation is 60 s old: the next write starts another
    recent.put("web", "new", "d")
    assert (recent.get("web", "old"), recent.get("web", "kept")) == ("d", "d")
    clock.now = 122  # and once more: the first generation is gone
    recent.put("web", "newer", "d")
    assert recent.get("web", "old") is None and recent.get("web", "new") == "d"


def test_it_holds_at_most_its_size() -> None:
    recent = RecentDeliveries(ttl=3600, maxsize=4, clock=Clock())
    for i in range(5):
        recent.put("web", f"e{i}", "d")
    assert [recent.get("web", f"e{i}") for i in range(5)] == [None, None, "d", "d", "d"]


def test_the_collector_does_not_walk_its_entries() -> None:
    recent = RecentDeliveries(ttl=3600, maxsize=1000, clock=Clock())
    for i in range(100):
        recent.put("web", f"e{i}", f"{i:064x}")
    gc.collect()
    assert not gc.is_tracked(recent._newer)
