"""Date parsing that keeps what is known and invents nothing (no year is ever assumed)."""

from __future__ import annotations

import datetime as dt
import email.utils
import re

from index.model import PartialDate

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
MONTH_RE = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)


def month_number(name: str) -> int | None:
    return _MONTHS.get(name.lower().rstrip("."))


def _safe(year: int | None, month: int | None, day: int | None) -> PartialDate | None:
    try:
        return PartialDate(year, month, day)
    except ValueError:
        return None


def parse_date(text: str | None) -> PartialDate | None:
    """Parse ISO, RFC 2822, '23 March 2021', 'March 23, 2021', 'Mar 23', '2021/03/23'.

    Returns None when nothing date-like is found. Parts that are absent stay None.
    """
    if not text:
        return None
    s = text.strip()
    m = re.match(r"^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?(?:[T ]|$)", s)
    if m:
        y, mo, d = m.groups()
        return _safe(int(y), int(mo), int(d) if d else None)
    m = re.match(r"^(\d{4})$", s)
    if m:
        return _safe(int(m.group(1)), None, None)
    if re.match(r"^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4}", s):
        try:
            parsed = email.utils.parsedate_to_datetime(s)
            return _safe(parsed.year, parsed.month, parsed.day)
        except (TypeError, ValueError):
            pass
    m = re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? ({MONTH_RE})(?:,? (\d{{4}}))?\b", s, re.I)
    if m:
        d, mon, y = m.groups()
        return _safe(int(y) if y else None, month_number(mon), int(d))
    m = re.search(rf"\b({MONTH_RE}) (\d{{1,2}})(?:st|nd|rd|th)?(?:,? (\d{{4}}))?\b", s, re.I)
    if m:
        mon, d, y = m.groups()
        return _safe(int(y) if y else None, month_number(mon), int(d))
    m = re.search(rf"\b({MONTH_RE}),? (\d{{4}})\b", s, re.I)
    if m:
        mon, y = m.groups()
        return _safe(int(y), month_number(mon), None)
    return None


def parse_day(text: str) -> dt.date:
    """Parse a complete ISO date ('2021-03-23') for filters; raises ValueError with a reason."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a date (expected YYYY-MM-DD): {text!r}") from None
