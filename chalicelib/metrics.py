"""Business metrics as CloudWatch Embedded Metric Format log lines.

One JSON line on stdout becomes a metric in Lambda's log pipeline: no API call, no extra
permission, nothing to batch. The alarms in the deployed template watch these.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping

from chalicelib.config import settings

NAMESPACE = "LendingApi"  # the namespace infra/iam.py and the template's alarms use


def count(name: str, value: int, properties: Mapping[str, str] | None = None) -> None:
    """Records `value` of a count metric, dimensioned by stage. `properties` ride along as
    log fields, not dimensions (searchable in Logs Insights without a metric per tenant)."""
    line = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["Stage"]],
                                   "Metrics": [{"Name": name, "Unit": "Count"}]}],
        },
        **(properties or {}),
        "Stage": settings().stage,
        name: value,
    }
    print(json.dumps(line, separators=(",", ":")), file=sys.stdout, flush=True)
