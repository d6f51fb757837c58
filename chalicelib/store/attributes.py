"""pynamodb attributes that keep money and counters exact.

pynamodb's NumberAttribute decodes through json, so '1.10' would come back as a float. Money
and versions here are integers: this attribute refuses anything else in both directions.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import NUMBER


class IntAttribute(Attribute[int]):
    attr_type = NUMBER

    def serialize(self, value: Any) -> str:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"IntAttribute holds int only, got {type(value).__name__}")
        return str(value)

    def deserialize(self, value: str) -> int:
        return int(value)  # raises on '1.5': a non-integer here is corruption, not data
