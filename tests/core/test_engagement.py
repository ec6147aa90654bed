"""Engagement and intent from activities (services/core/engagement.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.config import Engagement
from schemas.lead import Lead
from services.core.engagement import engagement

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CONFIG = Engagement(
    half_life_days=10,
    points={"meeting_request": 70, "demo_request": 60, "email_reply": 40, "page_view": 3, "email_open": 1},
    page_points={"pricing": 25, "integration": 15},
    message_points=20,
)


def lead(*activities: dict[str, Any], message: str | None = None) -> Lead:
    return Lead.model_validate({"email": "maria@acme.example", "activities": activities, "message": message})


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def score(*activities: dict[str, Any], message: str | None = None, config: Engagement = CONFIG) -> int:
    return engagement(lead(*activities, message=message), config, NOW)[0]


def test_no_activity_and_no_message_earn_nothing() -> None:
    assert engagement(lead(), CONFIG, NOW) == (0, [])


@pytest.mark.parametrize(
    ("kind", "points"),
    [("meeting_request", 70), ("demo_request", 60), ("email_reply", 40), ("page_view", 3), ("email_open", 1)],
)
def test_each_activity_type_earns_its_configured_points(kind: str, points: int) -> None:
    assert score({"type": kind}) == points


def test_activity_types_are_matched_ignoring_case() -> None:
    assert score({"type": "Demo_Request"}) == 60


def test_unknown_activity_types_earn_nothing_and_say_nothing() -> None:
    assert engagement(lead({"type": "podcast_listen"}), CONFIG, NOW) == (0, [])


def test_replies_and_meetings_weigh_more_than_opens() -> None:
    assert score({"type": "email_reply"}) > 10 * score({"type": "email_open"})


@pytest.mark.parametrize(
    ("url", "points", "signal"),
    [
        ("https://northwind.example/Pricing?plan=pro", 3 + 25, "visited the pricing page"),
        ("/docs/integrations/hubspot", 3 + 15, "visited the integration page"),
        ("/blog/why-billing-matters", 3, "page view"),
    ],
)
def test_page_points_come_from_words_in_the_url(url: str, points: int, signal: str) -> None:
    assert engagement(lead({"type": "page_view", "url": url}), CONFIG, NOW) == (points, [signal])


def test_a_click_on_a_pricing_link_earns_only_click_points() -> None:
    config = CONFIG.model_copy(update={"points": {**CONFIG.points, "email_click": 2}})

    assert score({"type": "email_click", "url": "https://northwind.example/pricing"}, config=config) == 2


# Recency decay


def test_an_activity_one_half_life_old_counts_half() -> None:
    assert score({"type": "demo_request", "at": ago(10)}) == 30


def test_an_activity_two_half_lives_old_counts_a_quarter() -> None:
    assert score({"type": "demo_request", "at": ago(20)}) == 15


def test_decay_is_continuous_between_half_lives() -> None:
    assert score({"type": "demo_request", "at": ago(5)}) == round(60 * 0.5**0.5)


def test_the_half_life_comes_from_the_config() -> None:
    slow = CONFIG.model_copy(update={"half_life_days": 20})

    assert score({"type": "demo_request", "at": ago(20)}, config=slow) == 30


def test_an_undated_activity_counts_as_happening_now() -> None:
    assert score({"type": "demo_request"}) == score({"type": "demo_request", "at": NOW.isoformat()}) == 60


def test_a_future_date_is_not_inflated_above_full_points() -> None:
    assert score({"type": "demo_request", "at": (NOW + timedelta(days=30)).isoformat()}) == 60


def test_an_old_activity_says_how_old_it_is() -> None:
    _, signals = engagement(lead({"type": "demo_request", "at": ago(20)}), CONFIG, NOW)

    assert signals == ["demo request (20 days ago)"]


def test_the_same_lead_at_the_same_now_scores_the_same() -> None:
    dated = lead(
        {"type": "demo_request", "at": ago(3)}, {"type": "page_view", "url": "/pricing", "at": ago(9)}
    )

    assert engagement(dated, CONFIG, NOW) == engagement(dated, CONFIG, NOW)
    assert engagement(dated, CONFIG, NOW + timedelta(days=30))[0] < engagement(dated, CONFIG, NOW)[0]


# Totals, messages, signals


def test_points_add_up_and_equal_signals_are_said_once() -> None:
    views = ({"type": "page_view", "url": "/a"}, {"type": "page_view", "url": "/b"})

    assert engagement(lead(*views), CONFIG, NOW) == (6, ["page view"])


def test_engagement_is_capped_at_100() -> None:
    assert score({"type": "meeting_request"}, {"type": "demo_request"}, {"type": "email_reply"}) == 100


def test_a_message_earns_message_points() -> None:
    assert engagement(lead(message="We need billing automation."), CONFIG, NOW) == (20, ["wrote a message"])


@pytest.mark.parametrize("message", ["", "   \n\t "])
def test_a_blank_message_earns_nothing(message: str) -> None:
    assert engagement(lead(message=message), CONFIG, NOW) == (0, [])


def test_no_message_points_means_no_message_signal() -> None:
    silent = CONFIG.model_copy(update={"message_points": 0})

    assert engagement(lead(message="Hello"), silent, NOW) == (0, [])


def test_signals_are_ordered_strongest_first() -> None:
    activities = (
        {"type": "email_open"},
        {"type": "page_view", "url": "/pricing"},
        {"type": "demo_request", "at": ago(30)},  # 60 / 8 = 7.5: weaker than the pricing view now
        {"type": "email_reply"},
    )

    _, signals = engagement(lead(*activities, message="Call me"), CONFIG, NOW)

    assert signals == [
        "email reply",
        "visited the pricing page",
        "wrote a message",
        "demo request (30 days ago)",
        "email open",
    ]
