"""Time words in a question -> date filters or a recency prior, relative to ``as_of``.

'this week' / 'recently' / 'latest' become a recency prior (soft: undated articles stay
eligible); 'in 2021', 'last year', 'in March 2021' become a published-date range filter.
Every decision is written into ``notes`` for the answer's trace.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from index.dates import MONTH_RE, month_number
from index.retrieval import Recency

# (pattern, weight, half-life in days)
_RECENCY: list[tuple[re.Pattern[str], float, float]] = [
    (re.compile(r"\b(today|yesterday|tonight|this morning)\b", re.I), 0.4, 2.0),
    (
        re.compile(r"\b(this|past|last)\s+(week|weekend)\b|\blast (few|several) days\b", re.I),
        0.3,
        7.0,
    ),
    (re.compile(r"\b(this|past|last)\s+month\b", re.I), 0.3, 30.0),
    (re.compile(r"\b(recent(ly)?|latest|newest|current(ly)?|just|now|new)\b", re.I), 0.2, 14.0),
]
DEFAULT_RECENCY = (0.1, 60.0)


@dataclass(frozen=True)
class TimeScope:
    """What the question's time words mean, relative to ``as_of``."""

    as_of: dt.date
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    recency: Recency | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def analyse(question: str, as_of: dt.date | None = None) -> TimeScope:
    """Resolve time words in ``question`` against ``as_of`` (default: today)."""
    as_of = as_of or dt.date.today()
    notes: list[str] = []
    date_from = date_to = None
    m_year_rel = re.search(r"\b(last|this|previous)\s+year\b", question, re.I)
    m_month = re.search(rf"\bin\s+({MONTH_RE})\s+((?:19|20)\d\d)\b", question, re.I)
    m_year = re.search(r"\b(?:in|during|of|since)\s+((?:19|20)\d\d)\b", question, re.I)
    if m_month:
        month = month_number(m_month.group(1)) or 1
        year = int(m_month.group(2))
        date_from = dt.date(year, month, 1)
        date_to = dt.date(year, month, calendar.monthrange(year, month)[1])
        notes.append(f"'{m_month.group(0)}' -> published {date_from}..{date_to}")
    elif m_year:
        year = int(m_year.group(1))
        date_from = dt.date(year, 1, 1)
        date_to = dt.date(year, 12, 31) if "since" not in m_year.group(0).lower() else None
        notes.append(f"'{m_year.group(0)}' -> published {date_from}..{date_to or as_of}")
    elif m_year_rel:
        year = as_of.year - (0 if m_year_rel.group(1).lower() == "this" else 1)
        date_from, date_to = dt.date(year, 1, 1), min(dt.date(year, 12, 31), as_of)
        notes.append(f"'{m_year_rel.group(0)}' -> published {date_from}..{date_to}")
    weight, half_life = DEFAULT_RECENCY
    for pattern, w, hl in _RECENCY:
        m = pattern.search(question)
        if m:
            weight, half_life = w, hl
            notes.append(f"'{m.group(0)}' -> recency prior (half-life {hl:g} days before {as_of})")
            break
    else:
        notes.append(f"no time words: mild recency prior (half-life {half_life:g} days)")
    return TimeScope(
        as_of=as_of,
        date_from=date_from,
        date_to=date_to,
        recency=Recency(as_of, weight, half_life),
        notes=tuple(notes),
    )
