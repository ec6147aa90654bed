"""The pool walk: weighted round robin, daily caps, out of office (config and CRM override),
working hours across time zones and DST, overflow, and the SLA clock in working hours."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from schemas.config import Member, RoutingConfig, Rule, SlaConfig, SlaTarget, Team, WorkingHours
from schemas.decision import Evaluation, Fit, FitResult, OwnerStatus, RotationState, Status
from schemas.lead import Company, Lead
from services.core.escalation import reassign
from services.core.hours import add_working_time, is_working
from services.core.rotation import sequence, walk
from services.core.routing import route

WED = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
OFFICE = WorkingHours(start=time(9), end=time(17))
LEAD = Lead(company=Company(name="Acme"))


def team(*members: Member, zone: str = "UTC", hours: WorkingHours | None = None) -> Team:
    return Team(name="EMEA mid-market", members=members, timezone=zone, hours=hours)


ANA, BEN, CLARA = Member(id="ana", name="Ana"), Member(id="ben", name="Ben"), Member(id="clara", name="Clara")


def shares(pool: Team, leads: int) -> Counter[str]:
    turn, got = 0, Counter[str]()
    for _ in range(leads):
        picked = walk(pool, turn, WED)
        assert picked.member is not None
        got[picked.member.id] += 1
        turn = picked.next_turn
    return got


def test_equal_weights_share_exactly() -> None:
    assert shares(team(ANA, BEN, CLARA), 300) == {"ana": 100, "ben": 100, "clara": 100}


def test_weights_2_1_1_share_50_25_25_and_interleave() -> None:
    heavy = ANA.model_copy(update={"weight": 2})

    assert shares(team(heavy, BEN, CLARA), 400) == {"ana": 200, "ben": 100, "clara": 100}
    assert sequence((2, 1, 1)) == (0, 1, 2, 0)  # smooth: never the same person twice in a row here


def test_a_person_out_of_office_is_skipped_and_the_reason_explains() -> None:
    away = BEN.model_copy(update={"out_of_office_until": date(2026, 11, 24)})

    picked = walk(team(ANA, away, CLARA), 1, WED)

    assert picked.member == CLARA
    assert picked.next_turn == 3
    assert picked.describe(team(ANA, away, CLARA)) == (
        "round robin in 'EMEA mid-market': Clara was next; Ben skipped, out of office until 24 Nov"
    )


def test_out_of_office_ends_on_the_return_date_in_their_zone() -> None:
    away = BEN.model_copy(update={"out_of_office_until": date(2026, 11, 18)})

    assert walk(team(away), 0, WED).member == away


def test_the_crm_roster_overrides_config() -> None:
    pool = team(ANA, BEN)
    back_later = {
        "ana": OwnerStatus(out_of_office_until=WED + timedelta(days=2)),
        "ben": OwnerStatus(active=False),
    }

    picked = walk(pool, 0, WED, roster=back_later)

    assert picked.member is None
    assert "Ana skipped, out of office until 20 Nov 10:00 UTC" in picked.describe(pool)
    assert "inactive in the CRM" in picked.describe(pool)
    away_in_config = ANA.model_copy(update={"out_of_office_until": date(2027, 1, 1)})
    assert walk(team(away_in_config), 0, WED, roster={"ana": OwnerStatus()}).member is not None


def test_daily_cap_counts_in_the_persons_local_day() -> None:
    capped = ANA.model_copy(update={"daily_cap": 2})
    pool = team(capped, BEN, zone="Asia/Tokyo")
    late = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)  # already the 19th in Tokyo

    full = walk(pool, 0, late, assigned={("ana", "2026-11-19"): 2})
    fresh = walk(pool, 0, late, assigned={("ana", "2026-11-18"): 2})

    assert full.member == BEN and "at daily cap (2/2)" in full.describe(pool)
    assert fresh.member == capped


def test_working_hours_in_each_persons_zone() -> None:
    madrid = ANA.model_copy(update={"timezone": "Europe/Madrid"})
    new_york = BEN.model_copy(update={"timezone": "America/New_York"})
    pool = team(madrid, new_york, hours=OFFICE)

    morning_utc = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # 10:00 Madrid, 04:00 New York
    evening_utc = datetime(2026, 11, 18, 20, 0, tzinfo=UTC)  # 21:00 Madrid, 15:00 New York

    assert walk(pool, 1, morning_utc).member == madrid
    assert walk(pool, 0, evening_utc).member == new_york
    assert "outside working hours (Wed 21:00 Europe/Madrid)" in walk(pool, 0, evening_utc).describe(pool)


def test_weekends_are_outside_working_hours() -> None:
    saturday = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)

    assert not is_working(OFFICE, "UTC", saturday)
    assert is_working(None, "UTC", saturday)


def test_working_hours_follow_daylight_saving() -> None:
    # Madrid is UTC+2 in summer, UTC+1 in winter: 08:30 UTC is 10:30 local in summer, 09:30 in winter.
    assert is_working(OFFICE, "Europe/Madrid", datetime(2026, 7, 15, 7, 30, tzinfo=UTC))  # 09:30 local
    assert not is_working(OFFICE, "Europe/Madrid", datetime(2026, 1, 14, 7, 30, tzinfo=UTC))  # 08:30 local
    # The day the clocks go forward (Sun 29 Mar 2026) and back (Sun 25 Oct 2026) in a 7-day team.
    every_day = WorkingHours(
        days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"), start=time(9), end=time(17)
    )
    assert is_working(every_day, "Europe/Madrid", datetime(2026, 3, 29, 7, 0, tzinfo=UTC))  # 09:00 CEST
    assert not is_working(every_day, "Europe/Madrid", datetime(2026, 3, 28, 7, 0, tzinfo=UTC))  # 08:00 CET
    assert is_working(every_day, "Europe/Madrid", datetime(2026, 10, 25, 8, 0, tzinfo=UTC))  # 09:00 CET


def test_sla_clock_runs_only_in_working_hours() -> None:
    friday_late = datetime(2026, 11, 20, 16, 58, tzinfo=UTC)

    due = add_working_time(friday_late, 5, OFFICE, "UTC")

    assert due == datetime(2026, 11, 23, 9, 3, tzinfo=UTC)  # 2 min on Friday, 3 on Monday
    assert add_working_time(friday_late, 5, None, "UTC") == friday_late + timedelta(minutes=5)


def test_sla_clock_across_a_dst_change() -> None:
    # New York, Sat 31 Oct 2026 -> Mon 2 Nov (clocks went back Sun 1 Nov): 17:00 EDT = 21:00 UTC,
    # and Monday 09:00 EST = 14:00 UTC.
    friday_end = datetime(2026, 10, 30, 20, 55, tzinfo=UTC)  # 16:55 EDT

    due = add_working_time(friday_end, 10, OFFICE, "America/New_York")

    assert due == datetime(2026, 11, 2, 14, 5, tzinfo=UTC)


def config(*rules: Rule, pool: Team) -> RoutingConfig:
    return RoutingConfig(teams=(pool,), rules=rules, sla=SlaConfig(tiers={"hot": SlaTarget(minutes=5)}))


def hot() -> Evaluation:
    fit = FitResult(status=Fit.YES, reason="fits")
    return Evaluation(
        icp=fit, persona=fit, engagement=50, score=90, tier="hot", status=Status.QUALIFIED, reasons=("r",)
    )


def test_nobody_available_goes_to_the_rules_overflow_queue() -> None:
    pool = team(ANA.model_copy(update={"active": False}))
    rules = config(
        Rule(id="emea", team=pool.name, overflow_queue="EMEA backlog"), Rule(id="f", queue="Q"), pool=pool
    )

    decision = route(LEAD, hot(), rules, now=WED).decision

    assert (decision.rule_id, decision.queue, decision.owner) == ("emea", "EMEA backlog", None)
    assert "nobody available" in decision.reason


def test_nobody_available_without_overflow_falls_through_to_the_next_rule() -> None:
    pool = team(ANA.model_copy(update={"active": False}))
    rules = config(Rule(id="emea", team=pool.name), Rule(id="f", queue="Inside"), pool=pool)

    decision = route(LEAD, hot(), rules, now=WED).decision

    assert (decision.rule_id, decision.queue) == ("f", "Inside")
    assert "-> next rule" in decision.path[0]


def test_past_the_last_rule_the_configs_overflow_queue() -> None:
    pool = team(ANA.model_copy(update={"active": False}))
    rules = config(Rule(id="f", team=pool.name), pool=pool)

    decision = route(LEAD, hot(), rules, now=WED).decision

    assert (decision.rule_id, decision.queue) == ("overflow", "Unassigned")


def test_sla_reassignment_skips_the_late_owner_and_keeps_the_rotation() -> None:
    pool = team(ANA, BEN, CLARA)
    rules = config(Rule(id="f", team=pool.name), pool=pool)
    first = route(LEAD, hot(), rules, now=WED, state=RotationState({pool.name: 0}))
    assert first.decision.owner == "ana"

    later = reassign(
        first.decision, "hot", rules, now=WED + timedelta(minutes=6), state=RotationState({pool.name: 1})
    )

    assert later.decision.owner == "ben"
    assert "Ana did not touch it in time" in later.decision.reason
    assert later.take is not None and later.take.turn == 2
    assert later.decision.first_touch_due == WED + timedelta(minutes=11)
