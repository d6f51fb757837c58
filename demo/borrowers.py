"""Synthetic but valid borrowers, deterministic for a seed and varied so that the decisions vary
(strong, middling and weak credit files, amounts that need one or two reviewers) and so do the
repayment behaviours."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from chalicelib.lending.identity import check_char
from demo.money import CURRENCY, text

# German-credit characteristics (the shipped model's); scores ~610, ~510 and ~400.
GOOD = {"checking_account": "no_account", "credit_history": "critical_or_credit_elsewhere",
        "savings": "1000_or_more", "employment_since": "7_years_or_more",
        "other_debtors": "guarantor", "property": "real_estate",
        "other_installment_plans": "none", "housing": "own"}
MID = {**GOOD, "checking_account": "overdrawn", "savings": "below_100",
       "credit_history": "current_repaid_duly", "property": "none_or_unknown",
       "other_debtors": "none"}
BAD = {"checking_account": "overdrawn", "credit_history": "no_credits_or_all_repaid",
       "savings": "below_100", "employment_since": "unemployed",
       "other_debtors": "co_applicant", "property": "none_or_unknown",
       "other_installment_plans": "bank", "housing": "rent"}
PROFILES = (("good", GOOD, 55), ("middling", MID, 25), ("weak", BAD, 20))
BEHAVIOURS = (("payoff", 20), ("prepay", 20), ("partial", 20), ("missed", 40))
PURPOSES = ("car_new", "car_used", "furniture_equipment", "radio_television", "repairs",
            "education", "business")
REGIONS = (("110105", "CN-BJ"), ("310101", "CN-SH"), ("440106", "CN-GD"), ("330106", "CN-ZJ"),
           ("510104", "CN-SC"), ("420102", "CN-HB"), ("320102", "CN-JS"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华"


@dataclass(frozen=True)
class Borrower:
    n: int
    profile: str
    product: str  # weekly | monthly
    body: dict[str, Any]  # the application, without product_id
    review: str  # what a reviewer decides if it is referred: approve | decline
    behaviour: str  # payoff | prepay | partial | missed
    share: float  # how much of the principal (prepay) or first installment (partial) is paid

    @property
    def national_id(self) -> str:
        return str(self.body["applicant"]["national_id"]["number"])


def _pick(rng: random.Random, weighted: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    return rng.choices(weighted, weights=[w[-1] for w in weighted])[0]


def _resident_id(rng: random.Random, born: date, region: str, taken: set[str]) -> str:
    while True:
        first17 = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
        number = first17 + check_char(first17)
        if number not in taken:
            taken.add(number)
            return number


def _amount(rng: random.Random, profile: str) -> int:
    if profile != "good":
        return rng.randrange(10, 61) * 10_000  # 1,000 - 6,000
    roll = rng.random()
    low, high = (20, 200) if roll < 0.7 else (310, 390) if roll < 0.9 else (410, 500)
    return rng.randrange(low, high + 1) * 10_000  # above 30,000: referred; above 40,000: 4 eyes


def _card(seed: int, n: int) -> str:
    """A UnionPay card number (BIN 62, 16 digits, Luhn-valid) of its own random stream, so the
    borrowers' other draws are the ones they always were."""
    from stdnum import luhn

    body = "62" + "".join(random.Random(f"{seed}:{n}:card").choices("0123456789", k=13))
    return body + luhn.calc_check_digit(body)


def generate(count: int, seed: int, categories: dict[str, list[str]]) -> list[Borrower]:
    rng = random.Random(seed)
    taken: set[str] = set()
    out = []
    for n in range(count):
        profile, base, _ = _pick(rng, PROFILES)
        chars = dict(base)
        for name in rng.sample(sorted(categories), k=rng.randrange(0, 2)):
            if name in chars:  # one characteristic nudged, for variety within a profile
                chars[name] = rng.choice(categories[name])
        born = date(1965, 1, 1) + timedelta(days=rng.randrange(0, 38 * 365))
        code, region = rng.choice(REGIONS)
        product = "weekly" if rng.random() < 0.6 else "monthly"
        term = rng.randrange(4, 27) if product == "weekly" else rng.randrange(3, 25)
        body = {
            "amount": {"amount": text(_amount(rng, profile)), "currency": CURRENCY},
            "term": term,
            "purpose": rng.choice(PURPOSES),
            "applicant": {
                "name": rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randrange(1, 3))),
                "national_id": {"type": "prc_resident_id",
                                "number": _resident_id(rng, born, code, taken)},
                "phone": f"+861{rng.choice('3456789')}{rng.randrange(10**9):09d}",
                "date_of_birth": born.isoformat(),
                "monthly_income": {"amount": text(rng.randrange(30, 301) * 10_000),
                                   "currency": CURRENCY},
                "employment": {"status": rng.choice(("employed", "employed", "self_employed")),
                               "months_in_job": rng.randrange(1, 241)},
                "address": {"region": region},
                "characteristics": chars,
            },
            "channel": {"type": rng.choice(("app", "web", "partner_platform")),
                        "source": "make-demo"},
            "consents": {"credit_check": True, "data_processing": True},
        }
        body["beneficiary"] = {"kind": "bank_account", "scheme": "cn_unionpay_card",
                               "bank_code": "ICBC", "account_number": _card(seed, n),
                               "holder_name": body["applicant"]["name"]}  # type: ignore[index]
        behaviour = _pick(rng, BEHAVIOURS)[0]
        out.append(Borrower(n, profile, product, body,
                            "approve" if rng.random() < 0.7 else "decline", behaviour,
                            round(rng.uniform(0.2, 0.8), 2)))
    return out
