"""Warnings on routing rules that are valid but cannot do what their author meant.

Pure: typed config in, (location, message) pairs out. Two kinds:
- a rule that can never match: a condition on a value the config can never produce (a tier the
  matrix never yields, an unknown status), or conditions that contradict each other;
- a rule shadowed by an earlier one: every lead it matches is taken by an earlier rule first.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.config import TIERS, Condition, IcpConfig, Range, Rule
from schemas.decision import Status

Loc = tuple[str | int, ...]
Finding = tuple[Loc, str]

STATUSES = frozenset(s.value for s in Status)


def producible_tiers(icp: IcpConfig) -> frozenset[str]:
    """Every tier a decision can carry: the matrix's, nurture (insufficient info), disqualified."""
    return frozenset(t for row in icp.classification.matrix.values() for t in row) | {
        "nurture",
        "disqualified",
    }


def _never(i: int, rule: Rule, icp: IcpConfig | None) -> list[Finding]:
    when = rule.when
    found: list[Finding] = []
    bad = sorted(set(when.statuses) - STATUSES)
    if bad:
        found.append(
            (
                ("rules", i, "when", "statuses"),
                f"rule '{rule.id}' can never match: status {', '.join(bad)} does not exist"
                f" (statuses are {', '.join(sorted(STATUSES))})",
            )
        )
    tiers = producible_tiers(icp) if icp is not None else frozenset(TIERS)
    bad = sorted(set(when.tiers) - tiers)
    if bad and not set(when.tiers) & tiers:
        found.append(
            (
                ("rules", i, "when", "tiers"),
                f"rule '{rule.id}' can never match: no lead gets tier {', '.join(bad)}"
                f" (tiers are {', '.join(sorted(tiers))})",
            )
        )
    if icp is None:
        return found  # the rest needs a valid icp.yaml
    statuses = set(when.statuses)
    if statuses == {Status.QUALIFIED.value} and when.tiers:
        allowed = set(icp.classification.qualified_tiers)
        if not set(when.tiers) & allowed:
            found.append(
                (
                    ("rules", i, "when"),
                    f"rule '{rule.id}' can never match: a qualified lead's tier is one of"
                    f" {', '.join(sorted(allowed))}, not {', '.join(when.tiers)}"
                    " (only a status a person locked in the CRM could)",
                )
            )
    if set(when.tiers) == {"disqualified"} and statuses and Status.UNQUALIFIED.value not in statuses:
        found.append(
            (
                ("rules", i, "when"),
                f"rule '{rule.id}' can never match: a disqualified lead is unqualified"
                " (only a status a person locked in the CRM could)",
            )
        )
    if when.verticals and statuses == {Status.INSUFFICIENT_INFO.value}:
        found.append(
            (
                ("rules", i, "when"),
                f"rule '{rule.id}' can never match: a lead with insufficient info matches no vertical",
            )
        )
    if when.verticals and when.countries:
        verticals = [v for v in icp.verticals if v.name in when.verticals]
        if verticals and all(v.countries and not set(v.countries) & set(when.countries) for v in verticals):
            found.append(
                (
                    ("rules", i, "when"),
                    f"rule '{rule.id}' can never match: vertical(s) {', '.join(when.verticals)}"
                    f" take no company in {', '.join(when.countries)}",
                )
            )
    return found


def _range_covers(wide: Range | None, narrow: Range | None) -> bool:
    if wide is None:
        return True
    if narrow is None:
        return wide.min is None and wide.max is None
    low = wide.min is None or (narrow.min is not None and narrow.min >= wide.min)
    high = wide.max is None or (narrow.max is not None and narrow.max <= wide.max)
    return low and high


def _values(value: object) -> set[object]:
    return set(value) if isinstance(value, tuple) else {value}


def covers(earlier: Condition, later: Condition) -> bool:
    """Whether every lead ``later`` matches is matched by ``earlier`` too (judged field by
    field: two different fields, such as regions and countries, are never taken to overlap)."""
    pairs = (
        (earlier.countries, later.countries),
        (earlier.statuses, later.statuses),
        (earlier.tiers, later.tiers),
        (earlier.sources, later.sources),
        (earlier.verticals, later.verticals),
        (earlier.regions, later.regions),
        (earlier.languages, later.languages),
        (earlier.personas, later.personas),
    )
    if earlier.customer is not None and earlier.customer != later.customer:
        return False
    if not (_range_covers(earlier.employees, later.employees) and _range_covers(earlier.score, later.score)):
        return False
    for path, allowed in earlier.field.items():
        if path not in later.field or not _values(later.field[path]) <= _values(allowed):
            return False
    return all(not wide or (narrow and set(narrow) <= set(wide)) for wide, narrow in pairs)


def check_rules(rules: Sequence[tuple[int, Rule]], icp: IcpConfig | None) -> list[Finding]:
    """Warnings for ``rules`` (their index in the file, the rule), in file order."""
    found: list[Finding] = []
    for n, (i, rule) in enumerate(rules):
        found += _never(i, rule, icp)
        # An account_owner rule passes leads without a known owner on: it shadows nothing.
        shadow = next(
            (e for _, e in rules[:n] if not e.account_owner and covers(e.when, rule.when)),
            None,
        )
        if shadow is not None:
            found.append(
                (
                    ("rules", i, "when"),
                    f"rule '{rule.id}' never decides: every lead it matches is taken first by"
                    f" rule '{shadow.id}'",
                )
            )
    return found
