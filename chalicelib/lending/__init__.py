"""Pure lending domain: no I/O, no boto3/pynamodb/chalice, property-testable.

money       minor units, strict decimal strings, explicit rounding, the JSON Money model
daycount    30/360 (US Bond Basis), actual/365 fixed, actual/360
due_dates   frequencies and anchored due dates (month ends, semi-months)
schedule    LoanTerms → Schedule (equal installments/principal, interest-only, bullet, flat)
apr         Reg Z Appendix J actuarial APR and daily-IRR effective rate; the /v1/apr body
product     ProductConfig (strict pydantic) with cross-section validation and the APR cap
pricing     product → LoanTerms; schedule → disclosed APR (fees included)
quote       quote(): schedule, totals, APR, refusals with figures
allocation  payment allocation waterfall over past-due/due/in-advance × components
errors      LendingError / Problem: every problem with a field path, ready for a 422
"""
