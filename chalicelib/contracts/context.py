"""What a contract template sees: plain strings, numbers and lists (no objects to poke at).

Built from the loan's accepted terms, the product's fees and the parties; amounts are decimal
strings in the loan's currency, exactly as the schedule states them.
"""

from __future__ import annotations

from typing import Any

from chalicelib.lending.money import MAX_AMOUNT_DIGITS
from chalicelib.lending.schedule import MAX_INSTALLMENTS

# The longest each party field can be (the API's limits: tenant id and name, applicant name,
# national ID number and phone); tests/unit/contracts check these against the API models.
LONGEST = {"tenant_id": 40, "tenant_name": 200, "applicant_name": 100, "national_id": 32,
           "phone": 24, "product_id": 64, "grade": 16}


def _masked(value: str | None, keep: int = 4) -> str:
    if not value:
        return ""
    return "*" * max(len(value) - keep, 0) + value[-keep:]


def contract_context(*, contract_id: str, loan: dict[str, Any], schedule: dict[str, Any],
                     fees: dict[str, Any], lender: dict[str, str],
                     borrower: dict[str, str], signed_on: str) -> dict[str, Any]:
    """`loan`: id, principal, currency, term, grade, annual_rate_percent, apr_percent,
    product_id, product_version. `schedule`: the lending schedule's JSON. `fees`: the product's
    fee section as JSON. `borrower`: name, national_id, phone (masked here)."""
    rows = [{k: row[k] for k in ("number", "due_date", "principal", "interest", "fee", "total",
                                 "outstanding_after")} for row in schedule.get("installments", [])]
    origination = fees.get("origination", {})
    return {
        "contract_id": contract_id,
        "date": signed_on,
        "lender": {"name": lender.get("name", ""), "id": lender.get("id", "")},
        "borrower": {"name": borrower.get("name", ""),
                     "national_id": _masked(borrower.get("national_id")),
                     "phone": _masked(borrower.get("phone"))},
        "loan": {
            "id": loan["id"], "currency": loan["currency"], "principal": loan["principal"],
            "term": loan["term"], "grade": loan["grade"],
            "annual_rate_percent": loan["annual_rate_percent"],
            "apr_percent": loan["apr_percent"], "product_id": loan["product_id"],
            "product_version": loan["product_version"],
            "disbursement_date": schedule.get("disbursement_date", ""),
            "financed": schedule.get("financed", ""), "payout": schedule.get("payout", ""),
            "origination_fee": schedule.get("origination_fee", ""),
            "origination_fee_treatment": origination.get("treatment", "deducted"),
            "regular_payment": schedule.get("regular_payment") or "",
            "total_interest": schedule.get("total_interest", ""),
            "total_fees": schedule.get("total_fees", ""),
            "total_payments": schedule.get("total_payments", ""),
            "total_cost": schedule.get("total_cost", ""),
            "installment_fee": fees.get("installment", "0"),
            "late_fee": fees.get("late", "0"),
            "penalty_rate_percent": fees.get("penalty_rate_percent", "0"),
        },
        "schedule": rows,
    }


def sample_context() -> dict[str, Any]:
    """A representative context: a new template must render against it to be accepted."""
    schedule = {"disbursement_date": "2025-01-15", "financed": "10000.00", "payout": "9800.00",
                "origination_fee": "200.00", "regular_payment": "888.49",
                "total_interest": "661.88", "total_fees": "200.00",
                "total_payments": "10661.88", "total_cost": "861.88",
                "installments": [{"number": n, "due_date": f"2025-{n + 1:02d}-15",
                                  "principal": "805.16", "interest": "83.33", "fee": "0.00",
                                  "total": "888.49", "outstanding_after": "9194.84"}
                                 for n in range(1, 4)]}
    loan = {"id": "loan_sample", "currency": "CNY", "principal": "10000.00", "term": 12,
            "grade": "B", "annual_rate_percent": "12", "apr_percent": "15.87",
            "product_id": "prod_sample", "product_version": 1}
    return contract_context(contract_id="ctr_sample", loan=loan, schedule=schedule,
                            fees={"origination": {"treatment": "deducted"}},
                            lender={"name": "示例小额贷款 Sample Lender", "id": "sample"},
                            borrower={"name": "张三 Zhang San", "national_id": "110105198506151234",
                                      "phone": "+8613812345678"}, signed_on="2025-01-15")


def worst_case_context() -> dict[str, Any]:
    """The largest context a contract can have: the longest schedule a product allows
    (MAX_INSTALLMENTS) and the longest value each field can hold. A new template must render
    it within the budget, so no real loan can later find the template too expensive."""
    amount = "9" * (MAX_AMOUNT_DIGITS - 2) + ".99"
    schedule = {"disbursement_date": "2025-01-15", "financed": amount, "payout": amount,
                "origination_fee": amount, "regular_payment": amount,
                "total_interest": amount, "total_fees": amount, "total_payments": amount,
                "total_cost": amount,
                "installments": [{"number": n, "due_date": "2125-12-31", "principal": amount,
                                  "interest": amount, "fee": amount, "total": amount,
                                  "outstanding_after": amount}
                                 for n in range(1, MAX_INSTALLMENTS + 1)]}
    loan = {"id": f"loan_{'f' * 16}", "currency": "CNY", "principal": amount,
            "term": MAX_INSTALLMENTS, "grade": "G" * LONGEST["grade"],
            "annual_rate_percent": "99.9999", "apr_percent": "999.9999",
            "product_id": "p" * LONGEST["product_id"], "product_version": 10**9}
    fees = {"origination": {"treatment": "financed"}, "installment": amount, "late": amount,
            "penalty_rate_percent": "99.9999"}
    return contract_context(contract_id=f"ctr_{'f' * 16}", loan=loan, schedule=schedule,
                            fees=fees,
                            lender={"name": "贷" * LONGEST["tenant_name"],
                                    "id": "t" * LONGEST["tenant_id"]},
                            borrower={"name": "名" * LONGEST["applicant_name"],
                                      "national_id": "9" * LONGEST["national_id"],
                                      "phone": "+" + "9" * (LONGEST["phone"] - 1)},
                            signed_on="2125-12-31")
