"""Pure dashboard figures: percentiles, conversion, adherence, routing, timeline order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.dashboard import aggregate
from services.dashboard.routes import excerpt

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert aggregate.percentile(values, 50) == 50
    assert aggregate.percentile(values, 90) == 90
    assert aggregate.percentile(values, 99) == 99
    assert aggregate.percentile([7.0], 99) == 7
    assert aggregate.percentile([], 50) is None


def test_speed_to_lead_skips_unwritten_leads() -> None:
    pairs = [(T0, T0 + timedelta(seconds=s)) for s in (1, 2, 3, 4, 100)] + [(T0, None)]
    speed = aggregate.speed_to_lead(pairs)
    assert speed == {"count": 5, "p50": 3, "p90": 100, "p99": 100}


def test_tiers_in_natural_order_then_custom_ones() -> None:
    counts = {"warm": 2, "zeta": 1, "hot": 3, "disqualified": 4, "alpha": 5}
    assert aggregate.tier_sorted(counts) == [
        ("hot", 3), ("warm", 2), ("disqualified", 4), ("alpha", 5), ("zeta", 1)
    ]  # fmt: skip


def test_conversion_by_tier() -> None:
    rows = [("hot", 1), ("hot", 1), ("hot", 0), ("warm", 0), ("nurture", 1)]
    got = {c.tier: (c.labelled, c.converted, round(c.rate, 1)) for c in aggregate.conversion_by_tier(rows)}
    assert got == {"hot": (3, 2, 66.7), "warm": (1, 0, 0.0), "nurture": (1, 1, 100.0)}
    assert [c.tier for c in aggregate.conversion_by_tier(rows)] == ["hot", "warm", "nurture"]


def test_adherence_folds_tiers_per_person() -> None:
    rows = [
        {"owner": "ana", "tier": "hot", "met": 3, "breached": 1, "open": 2},
        {"owner": "ana", "tier": "warm", "met": 1, "breached": 1, "open": 0},
        {"owner": "luis", "tier": "hot", "met": 0, "breached": 0, "open": 4},
    ]
    ana, luis = aggregate.adherence_by_owner(rows)
    assert (ana.owner, ana.met, ana.breached, ana.open) == ("ana", 4, 2, 2)
    assert ana.rate is not None and round(ana.rate, 2) == 66.67
    assert luis.rate is None  # nothing decided yet: no rate rather than 0 %


def test_routing_distribution_by_owner_else_queue() -> None:
    rows = [("ana", None, 3), (None, "Nurture", 5), (None, "SDR review", 1), ("ana", "x", 1), (None, None, 1)]
    assert aggregate.routing_distribution(rows) == [
        ("queue: Nurture", 5), ("ana", 4), ("(nobody)", 1), ("queue: SDR review", 1)
    ]  # fmt: skip


def test_excerpt_hides_email_addresses_and_markdown() -> None:
    text = "**Maria Lopez**, Head of Ops\nThey wrote: mail me at maria.lopez@acme.example please"
    assert excerpt(text) == "Maria Lopez, Head of Ops They wrote: mail me at [email] please"
    assert len(excerpt("x " * 200)) == 160


def test_human_seconds() -> None:
    assert aggregate.human_seconds(None) == "-"
    assert aggregate.human_seconds(1.25) == "1.2 s"
    assert aggregate.human_seconds(600) == "10.0 min"
    assert aggregate.human_seconds(7200) == "2.0 h"
