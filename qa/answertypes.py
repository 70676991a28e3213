"""Typed answers: what a question's wording says its answer must be, and whether a sentence
holds one.

"In which European country is Andrew Tate held?" is answered by a sentence naming a country the
question does not; "after how many rounds of voting?" by a count of rounds ("a marathon 15
rounds of voting"), not by the 214 votes of the same story. Only types that can be checked
without a tagger are recognised: countries and US states (gazetteers below), months, weekdays,
years, and counts of a named thing. Any other question has no type (``expected`` is None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COUNTRIES = (
    "Afghanistan|Albania|Algeria|Andorra|Angola|Argentina|Armenia|Australia|Austria|Azerbaijan|"
    "Bahamas|Bahrain|Bangladesh|Barbados|Belarus|Belgium|Belize|Benin|Bhutan|Bolivia|Bosnia|"
    "Botswana|Brazil|Brunei|Bulgaria|Burkina Faso|Burundi|Cambodia|Cameroon|Canada|Cape Verde|"
    "Central African Republic|Chad|Chile|China|Colombia|Comoros|Congo|Costa Rica|Croatia|Cuba|"
    "Cyprus|Czech Republic|Czechia|Denmark|Djibouti|Dominica|Dominican Republic|East Timor|"
    "Ecuador|Egypt|El Salvador|England|Equatorial Guinea|Eritrea|Estonia|Eswatini|Ethiopia|Fiji|"
    "Finland|France|Gabon|Gambia|Georgia|Germany|Ghana|Greece|Grenada|Guatemala|Guinea|"
    "Guinea-Bissau|Guyana|Haiti|Honduras|Hungary|Iceland|India|Indonesia|Iran|Iraq|Ireland|"
    "Israel|Italy|Ivory Coast|Jamaica|Japan|Jordan|Kazakhstan|Kenya|Kiribati|Kosovo|Kuwait|"
    "Kyrgyzstan|Laos|Latvia|Lebanon|Lesotho|Liberia|Libya|Liechtenstein|Lithuania|Luxembourg|"
    "Madagascar|Malawi|Malaysia|Maldives|Mali|Malta|Mauritania|Mauritius|Mexico|Micronesia|"
    "Moldova|Monaco|Mongolia|Montenegro|Morocco|Mozambique|Myanmar|Namibia|Nauru|Nepal|"
    "Netherlands|Holland|New Zealand|Nicaragua|Niger|Nigeria|North Korea|North Macedonia|"
    "Northern Ireland|Norway|Oman|Pakistan|Palau|Palestine|Panama|Papua New Guinea|Paraguay|Peru|"
    "Philippines|Poland|Portugal|Qatar|Romania|Russia|Rwanda|Samoa|San Marino|Saudi Arabia|"
    "Scotland|Senegal|Serbia|Seychelles|Sierra Leone|Singapore|Slovakia|Slovenia|"
    "Solomon Islands|Somalia|South Africa|South Korea|South Sudan|Spain|Sri Lanka|Sudan|"
    "Suriname|Sweden|Switzerland|Syria|Taiwan|Tajikistan|Tanzania|Thailand|Togo|Tonga|"
    "Trinidad and Tobago|Tunisia|Turkey|Türkiye|Turkmenistan|Tuvalu|Uganda|Ukraine|"
    "United Arab Emirates|UAE|United Kingdom|UK|U\\.K\\.|Britain|Great Britain|United States|"
    "US|U\\.S\\.|USA|Uruguay|Uzbekistan|Vanuatu|Vatican City|Venezuela|Vietnam|Wales|"
    "Yemen|Zambia|Zimbabwe"
)
US_STATES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|"
    "Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|"
    "Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|"
    "New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|"
    "Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|"
    "West Virginia|Wisconsin|Wyoming"
)
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_NUMBER = (
    r"\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|dozen|dozens"
)
_GAZETTEERS = {
    "country": COUNTRIES,
    "nation": COUNTRIES,
    "state": US_STATES,
    "month": MONTHS,
    "day": WEEKDAYS,
    "year": r"(?:1[89]|20)\d\d",
}
# each type's pattern, compiled once (a gazetteer is a long alternation)
_TYPE_PATTERNS = {
    kind: re.compile(rf"\b(?P<value>{names})(?![\w-])") for kind, names in _GAZETTEERS.items()
}
# "which country", "in which European country", "what US state", "which month of this year"
_ASKS_TYPE = re.compile(
    r"\b(?:which|what)\s+(?:[A-Za-z-]+\s+){0,2}?(country|nation|state|month|day|year)\b", re.I
)
_HOW_MANY = re.compile(r"\bhow many\s+(?:more\s+|new\s+|other\s+)?([a-z]{3,})\b", re.I)
# words after "how many" that are not the counted thing ("how many did …", "how many US …")
_NOT_NOUNS = {"did", "does", "do", "have", "has", "had", "are", "were", "was", "will", "would"}


@dataclass(frozen=True)
class AnswerType:
    """What the answer must name, as a pattern a sentence is searched with."""

    label: str  # "country", "state", "month", "day", "year" or "count of <noun>"
    pattern: re.Pattern[str]
    asked: frozenset[str] = frozenset()  # such things the question names itself (canonical)

    def found_in(self, sentence: str) -> bool:
        """Whether ``sentence`` names such a thing that the question does not."""
        return any(
            _canonical(m.group("value")) not in self.asked for m in self.pattern.finditer(sentence)
        )


# one country under several names: "the US" in a question is the "U.S." of a sentence
_ALIASES = {
    "us": "united states",
    "usa": "united states",
    "uk": "united kingdom",
    "britain": "united kingdom",
    "great britain": "united kingdom",
    "holland": "netherlands",
    "czechia": "czech republic",
    "türkiye": "turkey",
    "uae": "united arab emirates",
}


def _canonical(name: str) -> str:
    key = name.replace(".", "").lower()
    return _ALIASES.get(key, key)


def expected(question: str) -> AnswerType | None:
    """The type the question's wording asks for, or None when it names none we can check."""
    m = _HOW_MANY.search(question)
    if m and m.group(1).lower() not in _NOT_NOUNS:
        noun = m.group(1).lower()
        stem = re.escape(noun[:-3] if noun.endswith("ies") else noun.rstrip("s"))
        number = rf"\b(?P<value>{_NUMBER})\b"
        # "15 rounds", "a marathon 15 rounds", "113 million viewers"; not "216 votes after
        # rounds": at most one word between, and not a preposition
        between = r"(?:\s+(?!(?:after|of|in|for|to|and|or|from|on|with|by|at)\b)[\w-]+)?"
        counted = re.compile(rf"{number}{between}\s+{stem}\w*\b", re.I)
        asked = frozenset(_canonical(x.group("value")) for x in re.finditer(number, question, re.I))
        return AnswerType(f"count of {noun}", counted, asked)
    m = _ASKS_TYPE.search(question)
    if m:
        kind = m.group(1).lower()
        pattern = _TYPE_PATTERNS[kind]
        asked = frozenset(_canonical(x.group("value")) for x in pattern.finditer(question))
        return AnswerType(kind, pattern, asked)
    return None
