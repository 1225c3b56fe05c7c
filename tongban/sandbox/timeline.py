"""Office-hours time arithmetic for the sandbox: working minutes, deadlines, RFC 3339 stamps.

Working days are Monday to Friday with the hall's hours 09:00–12:00 and 13:30–17:30 (+08:00).
The sandbox has no public-holiday calendar: TBS-CASE-005 asks senders to use the official
calendar, and TBS-EVT-011 makes the bus independent of it, so weekends are enough for a demo.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

from tongban.model.clock import CST
OFFICE_WINDOWS: tuple[tuple[time, time], ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))
WORKDAY_MINUTES = 420
CLOSE_OF_BUSINESS = time(17, 30)


def is_workday(d: date) -> bool:
    return d.weekday() < 5


def snap_to_office(t: datetime) -> datetime:
    """``t`` if the hall is open then, else the next opening instant."""
    t = t.astimezone(CST)
    while True:
        if is_workday(t.date()):
            for start, end in OFFICE_WINDOWS:
                s = datetime.combine(t.date(), start, CST)
                e = datetime.combine(t.date(), end, CST)
                if t < s:
                    return s
                if t < e:
                    return t
        t = datetime.combine(t.date() + timedelta(days=1), time(0, 0), CST)


def add_office_minutes(t: datetime, minutes: int) -> datetime:
    """Advance ``t`` by ``minutes`` (at least 1) of office time."""
    remaining = max(1, int(minutes))
    t = snap_to_office(t)
    while True:
        end = next(datetime.combine(t.date(), e, CST) for s, e in OFFICE_WINDOWS
                   if datetime.combine(t.date(), s, CST) <= t < datetime.combine(t.date(), e, CST))
        available = int((end - t).total_seconds() // 60)
        if remaining <= available:
            return t + timedelta(minutes=remaining)
        remaining -= available
        t = snap_to_office(end)


def add_working_days(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(days=1)
        if is_workday(d):
            n -= 1
    return d


def add_months(d: date, n: int) -> date:
    month = d.month - 1 + n
    year = d.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def deadline(start: datetime, limit: dict) -> datetime:
    """The promised completion instant for a ``timeLimit`` counted from ``start``.

    WORKDAY and DAY limits end at close of business on the last day; never before ``start``
    (TBS-CASE-004).
    """
    value, unit = limit["value"], limit["unit"]
    start = start.astimezone(CST)
    if unit == "HOUR":
        return start + timedelta(hours=value)
    if unit == "WORKDAY":
        day = add_working_days(start.date(), value)
    elif unit == "DAY":
        day = start.date() + timedelta(days=value)
    else:  # MONTH
        day = add_months(start.date(), value)
    return max(start, datetime.combine(day, CLOSE_OF_BUSINESS, CST))


def office_minutes_of(limit: dict) -> int:
    """Rough office-time length of a ``timeLimit``, used to pace generated case histories."""
    value, unit = limit["value"], limit["unit"]
    per_unit = {"WORKDAY": WORKDAY_MINUTES, "DAY": WORKDAY_MINUTES * 5 // 7, "HOUR": 60,
                "MONTH": 21 * WORKDAY_MINUTES}[unit]
    return value * per_unit


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)
