"""Identity fields of an applicant: PRC resident ID, phone, age, and how each is masked.

Pure. Error texts never echo the value checked (they end up in responses and logs), and the
check digit expected is not disclosed (it would help forge a number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# ISO 7064 MOD 11-2 on 17 digits: weight of digit i is 2^(17-i) mod 11.
WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
CHECK_CHARS = "10X98765432"  # indexed by (sum of weighted digits) mod 11
PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
})
RESIDENT_ID = re.compile(r"^[0-9]{17}[0-9X]$")
OTHER_ID = re.compile(r"^[A-Z0-9]{5,20}$")
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


@dataclass(frozen=True, slots=True)
class IdProblem:
    """`field` is relative to the national ID object ("number") or the applicant."""

    field: str
    msg: str
    code: str


def normalize_id(number: str) -> str:
    """Upper case, without spaces or hyphens: the form that is validated, hashed and stored."""
    return re.sub(r"[\s-]", "", number).upper()


def check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def resident_id_birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def resident_id_problems(number: str, today: date) -> list[IdProblem]:
    """Every reason an 18-character PRC resident ID is not valid (empty list: valid)."""
    n = normalize_id(number)
    if len(n) == 15 and n.isdigit():
        return [IdProblem("number", "15-digit first-generation IDs are not accepted; give the "
                          "18-character ID", "legacy_id")]
    if not RESIDENT_ID.fullmatch(n):
        return [IdProblem("number", "must be 17 digits followed by a digit or X",
                          "invalid_format")]
    problems = []
    if n[:2] not in PROVINCES:
        problems.append(IdProblem("number", "the first two digits are not a province code",
                                  "invalid_region"))
    born = resident_id_birth_date(n)
    if born is None:
        problems.append(IdProblem("number", "digits 7-14 are not a valid birth date",
                                  "invalid_birth_date"))
    elif born > today or born.year < 1900:
        problems.append(IdProblem("number", "the birth date in the ID is not plausible",
                                  "invalid_birth_date"))
    if check_char(n[:17]) != n[17]:
        problems.append(IdProblem("number", "the check character does not match "
                                  "(ISO 7064 MOD 11-2)", "check_digit"))
    return problems


def other_id_problems(number: str) -> list[IdProblem]:
    if not OTHER_ID.fullmatch(normalize_id(number)):
        return [IdProblem("number", "must be 5 to 20 letters or digits", "invalid_format")]
    return []


def normalize_phone(phone: str) -> str | None:
    """E.164 form, or None if the number is not a valid phone. Bare 11-digit numbers are
    mainland mobiles (+86)."""
    p = re.sub(r"[\s()-]", "", phone)
    if CN_MOBILE.fullmatch(p):
        return "+86" + p
    if E164.fullmatch(p):
        if p.startswith("+86") and not CN_MOBILE.fullmatch(p[3:]):
            return None
        return p
    return None


def age_on(born: date, today: date) -> int:
    """Whole years; someone born on 29 February turns a year older on 1 March."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def mask_id(number: str) -> str:
    """Only the last four characters remain (never the region or birth date)."""
    n = normalize_id(number)
    return "*" * max(len(n) - 4, 0) + n[-4:]


def mask_phone(phone: str) -> str:
    """+86 138****5678 style: country code, first three and last four digits."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:6] + "*" * (len(phone) - 10) + phone[-4:] if len(phone) > 10 else \
        phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    """The first character, then one asterisk per remaining character (at most three)."""
    name = name.strip()
    return name[:1] + "*" * min(max(len(name) - 1, 1), 3) if name else ""
