"""DynamoDB requests and write units per business operation, through the API, in-process.

Why: issue 9's `make bench` table. Each operation is driven through the real routes (Chalice's
test client, the contract-checked `Api` of the integration tests) against in-process moto with
`infra.moto_patches`, and metered by `bench/_meter.py` (botocore events on every DynamoDB
client; write units sized from moto's own items). Loans go apply → (referred: review) →
accept → signing code → sign → disburse → channel callback → repay; then close of business
(one day of accrual) over all of them. Figures are for the LAST loan (warm caches: a verified
key, account definitions), which is what steady traffic costs; COB is total / loans.

    .venv/bin/python bench/bench_operations.py [--loans 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _meter  # noqa: E402

METER = _meter.install()  # before any DynamoDB client exists

import tests.conftest as test_env  # noqa: E402  (the test environment: secrets, prefix)

OPERATIONS = ("application", "decision (review)", "acceptance", "signing code", "signing",
              "disbursement", "payout callback", "repayment", "journal (ledger API)",
              "journal read (GET)", "COB per loan")


def _measure(results: dict[str, dict[str, Any]], name: str, call: Any) -> Any:
    before, wcu0, items0 = METER.snapshot()
    out = call()
    after, wcu1, items1 = METER.snapshot()
    results[name] = {"requests": dict(after - before), "total": sum((after - before).values()),
                     "wcu": wcu1 - wcu0, "items": items1 - items0}
    return out


def run(loans: int) -> dict[str, dict[str, Any]]:
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import config
    from chalicelib.contracts import storage
    from chalicelib.services import cob, cob_chunks, credentials, personal_data, scoring_models
    from chalicelib.store import dynamo
    from infra.tables import provision
    from tests.integration.conftest import Api
    from tests.integration.contracts.helpers import contract_of
    from tests.integration.disbursement.conftest import callback, channel
    from tests.integration.origination.conftest import application, make_policy, make_product

    config.reset()
    results: dict[str, dict[str, Any]] = {}
    with mock_aws():
        test_env._apply_moto_patches()
        import boto3

        clients = {n: boto3.client(n) for n in ("dynamodb", "s3", "kms")}
        provision(clients, test_env.TEST_ENV["LENDING_TABLE_PREFIX"],
                  test_env.TEST_ENV["LENDING_BUCKET"])
        dynamo.reset()
        for reset in (personal_data.reset, scoring_models.reset, storage.reset,
                      credentials.forget_all):
            reset()
        import app as app_module

        with Client(app_module.app, stage_name="local") as client:
            api = Api(client)
            api.tenant("acme")
            keys = {r: api.key("acme", r) for r in ("admin", "partner", "reviewer", "operator")}
            policy = make_policy(api, keys["admin"],
                                 max_auto_approve={"amount": "20000.00", "currency": "CNY"})
            product = make_product(api, keys["admin"],
                                   references={"decision_policy_id": policy["id"]},
                                   fees={"origination": {"percent": "2",
                                                         "treatment": "deducted"}})
            ch = channel(api, keys, "bench", fund="10000000.00",
                         sandbox={"settle": "callback"})
            loan_ids = []
            for n in range(loans):
                body = application(product["id"], amount="25000.00", serial=f"{200 + n}")
                r = _measure(results, "application", lambda b=body: api.call(
                    "POST", "/v1/applications", b, key=keys["partner"]))
                assert r.status == 201 and r.json["status"] == "referred", r.json
                app_id = r.json["id"]
                r = _measure(results, "decision (review)", lambda a=app_id: api.call(
                    "POST", f"/v1/applications/{a}/review",
                    {"decision": "approve", "comment": "ok"}, key=keys["reviewer"]))
                assert r.status == 200 and r.json["status"] == "approved", r.json
                r = _measure(results, "acceptance", lambda a=app_id: api.call(
                    "POST", f"/v1/applications/{a}/accept", key=keys["partner"]))
                assert r.status == 201, r.json
                loan_id = r.json["loan"]["id"]
                contract = contract_of(clients, "acme", loan_id)
                code = _measure(results, "signing code", lambda c=contract: api.call(
                    "POST", f"/v1/contracts/{c}/signing-code", key=keys["partner"]))
                assert code.status == 201, code.json
                signer = {"name": body["applicant"]["name"],
                          "national_id": body["applicant"]["national_id"]["number"]}
                r = _measure(results, "signing", lambda c=contract, k=code, s=signer: api.call(
                    "POST", f"/v1/contracts/{c}/sign",
                    {"code": k.json["code"], "signer": s}, key=keys["partner"]))
                assert r.status == 200, r.json
                d = _measure(results, "disbursement", lambda lid=loan_id: api.call(
                    "POST", f"/v1/loans/{lid}/disbursements", key=keys["partner"]))
                assert d.status in (201, 202), d.json
                got = api.call("GET", f"/v1/disbursements/{d.json['id']}",
                               key=keys["admin"]).json
                payload = {"type": "payout.settled",
                           "payout_id": got["attempts"][0]["payout_id"], "provider_ref": "p"}
                r = _measure(results, "payout callback", lambda p=payload: callback(
                    api, ch, p))
                assert r.status == 200 and r.json["outcome"] == "processed", r.json
                pay = {"amount": {"amount": "100.00", "currency": "CNY"},
                       "paid_at": datetime.now(UTC).isoformat(), "channel": "alipay",
                       "external_reference": f"ext-{n}"}
                r = _measure(results, "repayment", lambda lid=loan_id, p=pay: api.call(
                    "POST", f"/v1/loans/{lid}/repayments", p, key=keys["partner"]))
                assert r.status == 201, r.json
                journal = {"journal_id": f"bench-{n}", "effective_date": "2026-03-01",
                           "postings": [
                               {"account_id": "suspense", "side": "debit",
                                "amount": {"amount": "1.00", "currency": "CNY"}},
                               {"account_id": "funding", "side": "credit",
                                "amount": {"amount": "1.00", "currency": "CNY"}}]}
                r = _measure(results, "journal (ledger API)", lambda j=journal: api.call(
                    "POST", "/v1/ledger/journals", j, key=keys["operator"]))
                assert r.status == 201, r.json
                r = _measure(results, "journal read (GET)", lambda j=journal: api.call(
                    "GET", f"/v1/ledger/journals/{j['journal_id']}", key=keys["operator"]))
                assert r.status == 200, r.json
                loan_ids.append(loan_id)
            day = date.today() + timedelta(days=1)  # the loans' first day of accrual
            now = datetime.now(UTC) + timedelta(days=2)

            def close_of_business() -> dict[str, Any]:
                item = cob.start("acme", day, now, "bench")
                return cob.view(cob_chunks.run_inline("acme", item["run_id"]["S"], now))

            view = _measure(results, "COB per loan", close_of_business)
            assert view.get("stepped") == loans, view
            cob_row = results["COB per loan"]
            results["COB per loan"] = {
                "requests": {k: v / loans for k, v in cob_row["requests"].items()},
                "total": cob_row["total"] / loans, "wcu": cob_row["wcu"] / loans,
                "items": cob_row["items"] / loans}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    ns = parser.parse_args()
    results = run(ns.loans)
    print(f"DynamoDB per operation through the API (in-process moto; last of {ns.loans} loans; "
          "COB = one day for all loans / loans); WCU estimated from item sizes")
    print(f"{'operation':<22}{'requests':>9}{'WCU':>7}{'items':>7}  by type")
    for name in OPERATIONS:
        r = results[name]
        kinds = ", ".join(f"{k} {v:g}" for k, v in sorted(r["requests"].items()))
        print(f"{name:<22}{r['total']:>9.4g}{r['wcu']:>7.4g}{r['items']:>7.4g}  {kinds}")
    if ns.json:
        ns.json.write_text(json.dumps({"operations": results}, indent=1))


if __name__ == "__main__":
    main()
