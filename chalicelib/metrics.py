"""Business metrics as CloudWatch Embedded Metric Format log lines.

One JSON line on stdout becomes a metric in Lambda's log pipeline: no API call, no extra
permission, nothing to batch. The alarms in the deployed template watch these.
"""

from __future__ import annotations

import json
import sys
import time

from chalicelib.config import settings

NAMESPACE = "LendingApi"  # the namespace infra/iam.py and the template's alarms use


def count(name: str, value: int) -> None:
    """Records `value` of a count metric, dimensioned by stage."""
    line = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["Stage"]],
                                   "Metrics": [{"Name": name, "Unit": "Count"}]}],
        },
        "Stage": settings().stage,
        name: value,
    }
    print(json.dumps(line, separators=(",", ":")), file=sys.stdout, flush=True)
