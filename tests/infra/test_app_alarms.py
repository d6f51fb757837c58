"""The application template's alarms on the business metrics the code emits (EMF lines in
chalicelib/metrics.py): each alarm watches the metric name and namespace the code uses."""

from __future__ import annotations

from chalicelib import metrics
from chalicelib.services import cob_exceptions
from infra import sam_template


def test_quarantined_loans_alarm_watches_what_close_of_business_emits() -> None:
    t = sam_template.postprocess({"Resources": {}}, "dev", require_usage_keys=False)
    props = t["Resources"]["CobLoansQuarantinedAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == (metrics.NAMESPACE, cob_exceptions.METRIC)
    assert props["Dimensions"] == [{"Name": "Stage", "Value": "dev"}]
    assert (props["Statistic"], props["Threshold"], props["ComparisonOperator"]) == (
        "Sum", 1, "GreaterThanOrEqualToThreshold")  # one quarantined loan is one too many
    assert props["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic"


def test_channel_health_alarms_watch_what_the_channel_crossings_emit() -> None:
    from chalicelib.services import channel_health

    t = sam_template.postprocess({"Resources": {}}, "dev", require_usage_keys=False)
    for alarm, metric in (("ChannelBreakerOpenAlarm", channel_health.BREAKER_METRIC),
                          ("ChannelBalanceLowAlarm", channel_health.BALANCE_METRIC)):
        props = t["Resources"][alarm]["Properties"]
        assert (props["Namespace"], props["MetricName"]) == (metrics.NAMESPACE, metric)
        assert props["Dimensions"] == [{"Name": "Stage", "Value": "dev"}]
        assert (props["Statistic"], props["Threshold"], props["ComparisonOperator"]) == (
            "Sum", 1, "GreaterThanOrEqualToThreshold")  # one crossing is news
        assert props["Period"] == 300 and props["TreatMissingData"] == "notBreaching"
        assert props["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic"
