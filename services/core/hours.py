"""Working hours in a person's own time zone: is someone working now, and when does a
working-time deadline fall. DST-correct: windows are built in local time and compared in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas.config import WEEKDAYS, WorkingHours


def _window(day: date, hours: WorkingHours, zone: ZoneInfo) -> tuple[datetime, datetime]:
    # Local wall times on that day, as UTC instants (a DST day has 23 or 25 hours).
    start = datetime.combine(day, hours.start, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day, hours.end, tzinfo=zone).astimezone(UTC)
    return start, end


def local(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone))


def is_working(hours: WorkingHours | None, zone: str, at: datetime) -> bool:
    """No hours configured means around the clock."""
    if hours is None:
        return True
    here = local(at, zone)
    if WEEKDAYS[here.weekday()] not in hours.days:
        return False
    start, end = _window(here.date(), hours, ZoneInfo(zone))
    return start <= at.astimezone(UTC) < end


def add_working_time(start: datetime, minutes: int, hours: WorkingHours | None, zone: str) -> datetime:
    """``start`` plus ``minutes`` of working time: the clock stops outside the hours."""
    at = start.astimezone(UTC)
    if hours is None:
        return at + timedelta(minutes=minutes)
    tz = ZoneInfo(zone)
    remaining = timedelta(minutes=minutes)
    day = at.astimezone(tz).date()
    for _ in range(366 * 2):  # bounded: at least one working day a week is guaranteed by config
        if WEEKDAYS[day.weekday()] in hours.days:
            open_, close = _window(day, hours, tz)
            begin = max(at, open_)
            if begin < close:
                if close - begin >= remaining:
                    return begin + remaining
                remaining -= close - begin
        day += timedelta(days=1)
    raise ValueError("no working time found within two years")  # unreachable with valid config
