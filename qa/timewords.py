"""Time words in a question -> a time window, date filters or a recency prior, relative to
``as_of`` (the day the question is asked; today by default).

* Named windows: 'today', 'yesterday', 'this week', 'on Monday', 'this month', 'recently',
  'latest' become a window of days before ``as_of``, which the search widens only when it
  holds nothing.
* Past times: 'in 2019', 'during the 2020 election', 'last year', 'in March 2021' become a
  published-date range, and no pull towards recent articles.
* Otherwise recency is a ranking signal of its own (a prior that halves every
  ``half_life_days``), not a filter: undated articles stay eligible.

Every decision is written into ``notes`` for the answer's trace.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from index.dates import MONTH_RE, month_number
from index.retrieval import Recency

_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
# a weekday that names a feast, a sale or a title is not a time word ('Black Friday',
# 'Super Bowl Sunday', Netflix's 'Wednesday')
_NAMED_DAY = "".join(
    rf"(?<!{w} )"
    for w in (
        *("black", "good", "ash", "cyber", "bowl", "easter", "palm", "super", "giving"),
        *("bloody", "holy", "fat", "maundy", "'s", "’s"),
    )
)
# (pattern, window in days or None, recency weight, half-life in days)
_RECENCY: list[tuple[re.Pattern[str], int | None, float, float]] = [
    # 'today' in a name is not a time word ('the USA TODAY Network', NBC's 'Today show')
    (
        re.compile(r"(?<!usa )(?<!psychology )\b(today|tonight|this morning)\b(?! show)", re.I),
        2,
        0.4,
        2.0,
    ),
    (re.compile(r"\byesterday\b", re.I), 3, 0.4, 2.0),
    (re.compile(r"\b(this|past) (week|weekend)\b|\blast (few|several) days\b", re.I), 8, 0.3, 7.0),
    (re.compile(r"\blast week(end)?\b", re.I), 15, 0.3, 7.0),
    # news says 'on Monday' of the last seven days ('last Monday': of the week before)
    (re.compile(rf"\blast {_WEEKDAY}\b", re.I), 15, 0.3, 7.0),
    (re.compile(rf"{_NAMED_DAY}(?<![\"“‘'])\b{_WEEKDAY}\b(?! addams)", re.I), 8, 0.3, 7.0),
    (re.compile(r"\b(this|past) month\b", re.I), 31, 0.3, 30.0),
    (re.compile(r"\blast month\b", re.I), 62, 0.3, 30.0),
    (re.compile(r"\b(recent(ly)?|latest|newest)\b", re.I), 45, 0.2, 14.0),
    # 'now' words name no window; their prior is the question's default where that is stronger
    (
        re.compile(
            r"\b(current(ly)?|just|now|new)\b(?! (zealand|york|year|jersey|delhi|orleans))", re.I
        ),
        None,
        0.2,
        14.0,
    ),
]
# fitted by `qa eval tune realtimeqa-articles --weeks 202301,202302` (eval/tune_articles.py):
# the most gold in the answer among the priors whose answers cite articles older than 30 days at
# most 15 % of the time. Fourth fit (weights 0-3 x 30-180 days, 2026-12-04): 2 x 30 days, gold in
# the answer 0.363, in the top 5 0.479, older than 30 days 14.8 %; the earlier rule (accuracy
# alone) chose 1 x 90 days: 0.367 / 0.488 / 19.5 %. Re-measured at ec2d5ff: 0.358 / 0.479 /
# 14.7 % against 0.362 / 0.487 / 19.4 %. Gold in the answer is flat (0.354-0.367) from 0.6 to 3.
DEFAULT_RECENCY = (2.0, 30.0)
WIDEN = 4  # an empty window is widened four times over, then dropped


@dataclass(frozen=True)
class TimeScope:
    """What the question's time words mean, relative to ``as_of``."""

    as_of: dt.date
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    recency: Recency | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    window_days: int | None = None  # a named window: days before as_of
    window_words: str = ""  # the words that named it


def analyse(
    question: str, as_of: dt.date | None = None, default: tuple[float, float] = DEFAULT_RECENCY
) -> TimeScope:
    """Resolve time words in ``question`` against ``as_of`` (default: today); ``default``:
    the (weight, half-life in days) of the recency prior of a question without time words."""
    as_of = as_of or dt.date.today()
    notes: list[str] = []
    date_from = date_to = None
    m_year_rel = re.search(r"\b(last|this|previous)\s+year\b", question, re.I)
    m_month = re.search(rf"\bin\s+({MONTH_RE})\s+((?:19|20)\d\d)\b", question, re.I)
    m_year = re.search(
        r"\b(?:in|during|of|since|for)\s+(?:the\s+)?((?:19|20)\d\d)\b", question, re.I
    )
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
    weight, half_life = default
    window: int | None = None
    words = ""
    past = date_from is not None and (date_to is None or date_to < as_of)
    if past:
        weight = 0.0  # a question about a past time is not pulled towards recent articles
        notes.append("a past time is named: no recency prior")
    else:
        for pattern, days, w, hl in _RECENCY:
            m = pattern.search(question)
            if m:
                if days is not None or w >= weight:
                    weight, half_life = w, hl
                window, words = days, m.group(0)
                notes.append(
                    f"'{words}' -> "
                    + (f"published in the {days} days up to {as_of}, " if days else "")
                    + f"recency prior (weight {weight:g}, half-life {half_life:g} days)"
                )
                break
        else:
            notes.append(
                f"no time words: recency prior (weight {weight:g}, half-life {half_life:g} days)"
                if weight
                else "no time words: no recency prior"
            )
    return TimeScope(
        as_of=as_of,
        date_from=date_from,
        date_to=date_to,
        recency=Recency(as_of, weight, half_life),
        notes=tuple(notes),
        window_days=window,
        window_words=words,
    )
