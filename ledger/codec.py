"""DynamoDB AttributeValue encoding for the few shapes the ledger stores (no boto3 needed).

Numbers are integers only: they are written as decimal strings and read back with int(), so no
amount ever passes through a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AttributeValue = dict[str, Any]


def encode(value: Any) -> AttributeValue:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, Mapping):
        return {"M": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [encode(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in the ledger")


def decode(av: AttributeValue) -> Any:
    (tag, value), = av.items()
    if tag == "S":
        return value
    if tag == "N":
        return int(value)
    if tag == "BOOL":
        return bool(value)
    if tag == "NULL":
        return None
    if tag == "M":
        return {k: decode(v) for k, v in value.items()}
    if tag == "L":
        return [decode(v) for v in value]
    raise TypeError(f"unexpected attribute type {tag}")


def encode_item(values: Mapping[str, Any]) -> dict[str, AttributeValue]:
    return {k: encode(v) for k, v in values.items() if v is not None}


def decode_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    return {k: decode(v) for k, v in item.items()}
