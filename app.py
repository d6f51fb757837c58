"""Chalice entry point: registers the blueprints and scheduled jobs. No business logic here."""

import logging

from chalice import Chalice, Cron, Rate
from chalice.app import SQSEvent

from chalicelib.api import audit, auth, health, ledger, pricing, products, reference, tenants
from chalicelib.api.applications import bp as applications_bp
from chalicelib.api.beneficiaries import bp as beneficiaries_bp
from chalicelib.api.channels import bp as channels_bp
from chalicelib.api.cob import bp as cob_bp
from chalicelib.api.contracts import bp as contracts_bp
from chalicelib.api.decision_policies import bp as decision_policies_bp
from chalicelib.api.disbursements import bp as disbursements_bp
from chalicelib.api.models_api import bp as models_bp
from chalicelib.api.payout_operations import bp as payout_operations_bp
from chalicelib.api.reconciliation import bp as reconciliation_bp
from chalicelib.api.repayments import bp as repayments_bp
from chalicelib.api.reports import bp as reports_bp
from chalicelib.api.reviews import bp as reviews_bp
from chalicelib.api.sandbox import bp as sandbox_bp
from chalicelib.api.statement_formats import bp as statement_formats_bp
from chalicelib.api.webhooks import bp as webhooks_bp
from chalicelib.jobs import (
    cob,
    disbursement_resume,
    ledger_sweep,
    loan_expiry,
    nightly_checks,
    statement_fetch,
    webhook_delivery,
)

app = Chalice(app_name="lending-api")
app.api.cors = False
log = logging.getLogger("lending.jobs")

app.register_blueprint(auth.auth_bp)
for blueprint in (health.bp, tenants.bp, audit.bp, ledger.bp, products.bp, pricing.bp):
    app.register_blueprint(blueprint)
app.register_blueprint(applications_bp)
app.register_blueprint(reviews_bp)
app.register_blueprint(decision_policies_bp)
app.register_blueprint(models_bp)
app.register_blueprint(contracts_bp)
app.register_blueprint(channels_bp)
app.register_blueprint(disbursements_bp)
app.register_blueprint(payout_operations_bp)
app.register_blueprint(beneficiaries_bp)
app.register_blueprint(webhooks_bp)
app.register_blueprint(reconciliation_bp)
app.register_blueprint(statement_formats_bp)
app.register_blueprint(reports_bp)
app.register_blueprint(repayments_bp)
app.register_blueprint(cob_bp)
app.register_blueprint(sandbox_bp)
app.register_blueprint(reference.bp)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_expired_pendings(_event: object) -> None:
    log.info("expired pendings voided: %s", ledger_sweep.sweep_all())


@app.schedule(Rate(1, unit=Rate.MINUTES))
def deliver_webhooks(_event: object) -> None:
    log.info("webhooks: %s", webhook_delivery.run_once())


@app.schedule(Cron(30, 1, "*", "*", "?", "*"))
def nightly_reconciliation(_event: object) -> None:
    log.info("nightly checks: %s", nightly_checks.run_all())


@app.schedule(Rate(15, unit=Rate.MINUTES))
def resume_nightly_reconciliation(_event: object) -> None:
    log.info("nightly checks (resume): %s", nightly_checks.run_all(resume_only=True))


@app.schedule(Rate(5, unit=Rate.MINUTES))
def resume_disbursements(_event: object) -> None:
    log.info("disbursements resumed: %s", disbursement_resume.run_all())


@app.schedule(Rate(1, unit=Rate.HOURS))  # each tenant's new business day, within the hour
def expire_loans(_event: object) -> None:
    log.info("loans expired: %s", loan_expiry.run_all())


@app.schedule(Rate(1, unit=Rate.HOURS))  # each tenant's new business day, within the hour
def fetch_bank_statements(_event: object) -> None:
    log.info("bank statements fetched: %s", statement_fetch.run_all())


@app.schedule(Rate(15, unit=Rate.MINUTES))  # each tenant's local midnight, within 15 minutes
def close_of_business(_event: object) -> None:
    log.info("close of business: %s", cob.run_all())


@app.schedule(Rate(15, unit=Rate.MINUTES))
def resume_close_of_business(_event: object) -> None:
    log.info("close of business (resume): %s", cob.run_all(resume_only=True))


@app.on_sqs_message(queue=cob.QUEUE, batch_size=1, maximum_concurrency=cob.MAX_WORKERS)
def close_of_business_chunk(event: SQSEvent) -> None:
    for record in event:
        log.info("close of business chunk: %s", cob.work_message(
            record.body, event.context.get_remaining_time_in_millis()))
