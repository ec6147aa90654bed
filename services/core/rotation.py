"""Weighted round robin over a pool, walked from the store's turn counter.

The order is a fixed sequence built by smooth weighted round robin (as nginx does) from the
members' weights: weights 2:1:1 give A B C A, repeated. Turn ``n`` of the store's counter is slot
``n mod len(sequence)``. A lead takes the first available person from the current slot on and
moves the counter past that slot, so across any number of replicas (each turn taken with a
compare-and-set in the store) the shares are exact over every full cycle, and a skipped person
(away, out of hours, at their cap) simply misses that turn rather than being owed it later.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from schemas.config import Member, Team
from schemas.decision import OwnerStatus
from services.core.hours import is_working, local


@functools.lru_cache(maxsize=256)
def sequence(weights: tuple[int, ...]) -> tuple[int, ...]:
    """Member indexes in smooth weighted round robin order, one full cycle (sum of weights)."""
    total = sum(weights)
    current = [0] * len(weights)
    order: list[int] = []
    for _ in range(total):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=lambda i: current[i])  # ties: the first listed
        current[best] -= total
        order.append(best)
    return tuple(order)


def local_day(team: Team, member: Member, now: datetime) -> str:
    """The person's own calendar date: daily caps reset at their midnight."""
    return local(now, team.zone_of(member)).date().isoformat()


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"


def unavailable(
    team: Team,
    member: Member,
    now: datetime,
    assigned: Mapping[tuple[str, str], int],
    override: OwnerStatus | None = None,
) -> str | None:
    """Why this person cannot take a lead now, or None when they can."""
    if override is not None:
        if not override.active:
            return "inactive in the CRM"
        if override.out_of_office_until is not None and now < override.out_of_office_until:
            back_at = override.out_of_office_until.astimezone(UTC)
            return f"out of office until {_day(back_at)} {back_at:%H:%M} UTC"
    else:
        if not member.active:
            return "inactive"
        back = member.out_of_office_until
        if back is not None and local(now, team.zone_of(member)).date() < back:
            return f"out of office until {_day(back)}"
    zone = team.zone_of(member)
    if not is_working(team.hours_of(member), zone, now):
        here = local(now, zone)
        return f"outside working hours ({here:%a %H:%M} {zone})"
    if member.daily_cap is not None:
        taken = assigned.get((member.id, local_day(team, member, now)), 0)
        if taken >= member.daily_cap:
            return f"at daily cap ({taken}/{member.daily_cap})"
    return None


@dataclass(frozen=True)
class Walk:
    """The outcome of one pass over the pool from ``turn``."""

    member: Member | None
    next_turn: int  # where the counter moves when this pick is taken
    skipped: tuple[tuple[Member, str], ...] = field(default=())

    def describe(self, team: Team) -> str:
        skipped = "; ".join(f"{m.name} skipped, {why}" for m, why in self.skipped)
        if self.member is None:
            return f"round robin in '{team.name}': nobody available ({skipped})"
        text = f"round robin in '{team.name}': {self.member.name} was next"
        return f"{text}; {skipped}" if skipped else text


def walk(
    team: Team,
    turn: int,
    now: datetime,
    assigned: Mapping[tuple[str, str], int] | None = None,
    roster: Mapping[str, OwnerStatus] | None = None,
    exclude: Collection[str] = (),
) -> Walk:
    """The first available person from slot ``turn`` on (at most one full cycle)."""
    assigned, roster = assigned or {}, roster or {}
    order = sequence(tuple(m.weight for m in team.members))
    skipped: list[tuple[Member, str]] = []
    seen: set[str] = set()
    for step in range(len(order)):
        member = team.members[order[(turn + step) % len(order)]]
        if member.id in exclude:
            continue
        why = unavailable(team, member, now, assigned, roster.get(member.id))
        if why is None:
            return Walk(member, turn + step + 1, tuple(skipped))
        if member.id not in seen:
            seen.add(member.id)
            skipped.append((member, why))
    return Walk(None, turn, tuple(skipped))
