"""JSON Schema generation that shows every default the server applies, factories included.

Pydantic leaves a `default_factory` (a list, a nested settings object) out of the schema, so a
partner reading openapi.yaml could not see, say, a product's default grades. This generator
calls the factory and writes its value as the field's `default`, like a plain `default=`.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema


class WithFactoryDefaults(GenerateJsonSchema):
    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        return schema.get("default", NoDefault)
