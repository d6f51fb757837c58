"""Post-processes the SAM template `chalice package` writes, for what Chalice cannot express.

Chalice generates the functions, the REST API, the authorizer and one EventBridge rule per
@app.schedule. It cannot set a runtime other than the local interpreter's, attach our layer,
throttle the stage, create usage plans, alarm, or pin IAM ARNs to the account. This module does,
generically: it keys on resource types, never on a list of routes or jobs, so new routes and
@app.schedule jobs need no change here (they get their alarms and the app policy automatically).

Per-tenant throttling: API Gateway usage plans throttle per *API Gateway API key*, not per our
Bearer key. So the template sets apiKeySource AUTHORIZER and a tenant usage plan, whose id the
API function receives (LENDING_USAGE_PLAN_ID); onboarding gives each tenant a key in that plan
(chalicelib/services/usage_keys.py), the authorizer returns it as `usageIdentifierKey`, and every
method behind the authorizer requires it, except the platform's own (tenant and key
administration), which no tenant's plan should meter. The stage-wide method throttle stays as the
backstop.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from infra import gateway_problems, iam

RUNTIME = "python3.12"
ARCHITECTURE = "x86_64"
METRIC_NAMESPACE = iam.METRIC_NAMESPACE
RECONCILIATION_METRIC = "ReconciliationExceptions"
COB_QUARANTINE_METRIC = "CobLoansQuarantined"  # chalicelib/services/cob_exceptions.METRIC
# chalicelib/services/channel_health.BREAKER_METRIC / BALANCE_METRIC
CHANNEL_BREAKER_METRIC = "ChannelBreakerOpen"
CHANNEL_BALANCE_METRIC = "ChannelBalanceLow"
# The jobs PRODUCT.md names; a missing one is reported by `make package`, not an error.
EXPECTED_JOBS = ("close_of_business", "reconciliation", "webhook_delivery")

PARAMETERS: dict[str, dict[str, Any]] = {
    "AlarmTopicArn": {
        "Type": "String",
        "Default": "",
        "Description": "SNS topic for alarms (storage stack output AlarmTopicArn); empty: none",
    },
    "StageRateLimit": {"Type": "Number", "Default": 200, "MinValue": 1,
                       "Description": "Steady requests/s for the whole stage (all tenants)"},
    "StageBurstLimit": {"Type": "Number", "Default": 400, "MinValue": 1},
    "TenantRateLimit": {"Type": "Number", "Default": 25, "MinValue": 1,
                        "Description": "Requests/s per tenant usage key (usage plan)"},
    "TenantBurstLimit": {"Type": "Number", "Default": 50, "MinValue": 1},
    "TenantDailyQuota": {"Type": "Number", "Default": 200000, "MinValue": 1},
    "LogRetentionDays": {"Type": "Number", "Default": 90,
                         "AllowedValues": [30, 60, 90, 120, 150, 180, 365, 400, 545, 731]},
}

_ARN = re.compile(r"^arn:aws:(dynamodb|kms|secretsmanager|logs|sqs):\*:\*:(.*)$")


def _sub_arn(value: str, bucket: str) -> Any:
    """Pins a policy ARN to this account/region/partition (the policy files use wildcards)."""
    m = _ARN.match(value)
    if m:
        service, rest = m.groups()
        return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:"
                           f"${{AWS::AccountId}}:{rest}"}
    if value.startswith(f"arn:aws:s3:::{bucket}"):
        return {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + value[len("arn:aws:s3:::"):]}
    return value


def _pin_policy(policy: dict[str, Any], bucket: str) -> None:
    for statement in policy["Statement"]:
        res = statement.get("Resource")
        if isinstance(res, list):
            statement["Resource"] = [_sub_arn(r, bucket) for r in res]
        elif isinstance(res, str):
            statement["Resource"] = _sub_arn(res, bucket)


def _alarm(description: str, metric: str, namespace: str, dimensions: list[dict[str, Any]],
           threshold: float, period: int = 300, statistic: str = "Sum") -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
            "Statistic": statistic,
            "Period": period,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}],
                                        {"Ref": "AWS::NoValue"}]},
        },
    }


def postprocess(sam: dict[str, Any], stage: str, *, require_usage_keys: bool = True,
                report: list[str] | None = None) -> dict[str, Any]:
    """Returns a new template; `report` collects notes for the packager to print."""
    t = copy.deepcopy(sam)
    notes = report if report is not None else []
    env = iam.stage_settings(stage)
    bucket = env["LENDING_BUCKET"]
    resources: dict[str, Any] = t["Resources"]
    t["Description"] = f"Lending API ({stage}): functions, REST API, throttling, alarms"
    t.setdefault("Parameters", {}).update(copy.deepcopy(PARAMETERS))
    t.setdefault("Conditions", {})["HasAlarmTopic"] = {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }

    resources["DependenciesLayer"] = {
        "Type": "AWS::Serverless::LayerVersion",
        "Properties": {
            "LayerName": f"lending-api-{stage}-dependencies",
            "Description": f"Third-party wheels for {RUNTIME} {ARCHITECTURE} (make package)",
            "ContentUri": "./layer.zip",
            "CompatibleRuntimes": [RUNTIME],
            "CompatibleArchitectures": [ARCHITECTURE],
            "RetentionPolicy": "Delete",
        },
    }

    functions = sorted(k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function")
    scheduled = []
    for name in functions:
        props = resources[name]["Properties"]
        props["Runtime"] = RUNTIME
        props["Architectures"] = [ARCHITECTURE]
        props["Layers"] = [{"Ref": "DependenciesLayer"}]
        props["CodeUri"] = "./deployment.zip"
        if any(e.get("Type") == "Schedule" for e in props.get("Events", {}).values()):
            scheduled.append(name)
        for event in props.get("Events", {}).values():
            if event.get("Type") == "SQS":
                _prefix_queue(event["Properties"], env["LENDING_TABLE_PREFIX"])
        resources[f"{name}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{name}}}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
        dims = [{"Name": "FunctionName", "Value": {"Ref": name}}]
        resources[f"{name}ErrorsAlarm"] = _alarm(
            f"{stage}: {name} raised errors", "Errors", "AWS/Lambda", dims, 1)
        resources[f"{name}ThrottlesAlarm"] = _alarm(
            f"{stage}: {name} was throttled (concurrency)", "Throttles", "AWS/Lambda", dims, 1)

    for role in (v for v in resources.values() if v["Type"] == "AWS::IAM::Role"):
        for policy in role["Properties"].get("Policies", []):
            _pin_policy(policy["PolicyDocument"], bucket)

    api = resources.get("RestAPI")
    if api is not None:
        props = api["Properties"]
        stage_name = props["StageName"]
        props["MethodSettings"] = [{
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "StageRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "StageBurstLimit"},
            "MetricsEnabled": True,
        }]
        body = props["DefinitionBody"]
        body["x-amazon-apigateway-api-key-source"] = "AUTHORIZER"
        body["x-amazon-apigateway-gateway-responses"] = gateway_problems.gateway_responses()
        if require_usage_keys:
            _require_api_keys(body)
        resources["TenantUsagePlan"] = {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "UsagePlanName": f"lending-api-{stage}-tenants",
                "Description": "Default per-tenant limits; tenants' API Gateway keys join it",
                "ApiStages": [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}],
                "Throttle": {"RateLimit": {"Ref": "TenantRateLimit"},
                             "BurstLimit": {"Ref": "TenantBurstLimit"}},
                "Quota": {"Limit": {"Ref": "TenantDailyQuota"}, "Period": "DAY"},
            },
        }
        api_dims = [{"Name": "ApiName", "Value": body["info"]["title"]},
                    {"Name": "Stage", "Value": stage_name}]
        resources["Api5xxAlarm"] = _alarm(
            f"{stage}: API answered 5xx", "5XXError", "AWS/ApiGateway", api_dims, 5)
        resources["ApiLatencyAlarm"] = _alarm(
            f"{stage}: API max latency over 5 s", "Latency", "AWS/ApiGateway", api_dims, 5000,
            statistic="Maximum")
        t.setdefault("Outputs", {})["TenantUsagePlanId"] = {"Value": {"Ref": "TenantUsagePlan"}}
        handler = resources.get("APIHandler", {}).get("Properties")
        if handler is not None:  # onboarding joins each tenant's key to this plan
            variables = handler.setdefault("Environment", {}).setdefault("Variables", {})
            variables["LENDING_USAGE_PLAN_ID"] = {"Ref": "TenantUsagePlan"}

    resources["ReconciliationExceptionsAlarm"] = _alarm(
        f"{stage}: reconciliation raised exceptions for people to resolve",
        RECONCILIATION_METRIC, METRIC_NAMESPACE, [{"Name": "Stage", "Value": stage}], 1,
        period=3600)
    resources["CobLoansQuarantinedAlarm"] = _alarm(
        f"{stage}: close of business quarantined loans it could not close "
        "(GET /v1/cob/exceptions)", COB_QUARANTINE_METRIC, METRIC_NAMESPACE,
        [{"Name": "Stage", "Value": stage}], 1, period=3600)
    resources["ChannelBreakerOpenAlarm"] = _alarm(
        f"{stage}: a disbursement channel's breaker opened; payouts fail over "
        "(GET /v1/channels)", CHANNEL_BREAKER_METRIC, METRIC_NAMESPACE,
        [{"Name": "Stage", "Value": stage}], 1)
    resources["ChannelBalanceLowAlarm"] = _alarm(
        f"{stage}: a disbursement channel's prefunding fell under its low_balance_threshold "
        "(POST /v1/channels/{id}/fundings)", CHANNEL_BALANCE_METRIC, METRIC_NAMESPACE,
        [{"Name": "Stage", "Value": stage}], 1)
    t.setdefault("Outputs", {})["DependenciesLayerArn"] = {"Value": {"Ref": "DependenciesLayer"}}

    names = {resources[n]["Properties"]["Handler"].rsplit(".", 1)[-1] for n in scheduled}
    for job in EXPECTED_JOBS:
        if job not in names:
            notes.append(f"no @app.schedule function named {job!r} yet")
    return t


def _prefix_queue(props: dict[str, Any], prefix: str) -> None:
    """`@app.on_sqs_message(queue="cob-chunks")` names the queue without the stage: the storage
    stack creates it as `${TablePrefix}cob-chunks`, so the event source gets the prefix."""
    arn = props["Queue"]["Fn::Sub"]
    head, name = arn.rsplit(":", 1)
    if not name.startswith(prefix):
        props["Queue"] = {"Fn::Sub": f"{head}:{prefix}{name}"}


def _require_api_keys(body: dict[str, Any]) -> None:
    """Tenant methods behind our authorizer also require the usage key the authorizer returns."""
    body["securityDefinitions"]["api_key"] = {"type": "apiKey", "name": "x-api-key",
                                              "in": "header"}
    platform = platform_operations()
    for path, methods in body["paths"].items():
        for method, op in methods.items():
            if (path, method.upper()) in platform or not isinstance(op, dict):
                continue
            if any("api_key_authorizer" in s for s in op.get("security", [])):
                op["security"] = [{**s, "api_key": []} for s in op["security"]]


def platform_operations() -> set[tuple[str, str]]:
    """(path, method) of the routes only the platform admin may call, from the routes' own
    declarations."""
    import app  # noqa: F401  (registers the routes)
    from chalicelib.api.http import ROUTES

    return {(r.path, r.method) for r in ROUTES if r.roles == frozenset({"platform"})}
