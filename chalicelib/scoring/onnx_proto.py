"""ONNX's protobuf schema without the `onnx` package (31 MB, dev only): a ModelProto parser.

`onnx-ml.descriptor.bin` is onnx 1.23's `onnx_ml_pb2.DESCRIPTOR.serialized_pb` (the compiled
onnx-ml.proto, 6 KB), loaded into a private descriptor pool so that it can never clash with the
real `onnx` package's registration in the default pool (tests and tools import both). Only
google.protobuf is needed, which onnxruntime already depends on (its gencode/runtime version check
does not apply: nothing generated is imported). Regenerate after an onnx upgrade with
    python -c "import onnx.onnx_ml_pb2 as p; open('chalicelib/scoring/onnx-ml.descriptor.bin',
    'wb').write(p.DESCRIPTOR.serialized_pb)"
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

DESCRIPTOR_FILE = Path(__file__).resolve().parent / "onnx-ml.descriptor.bin"


@cache
def model_proto_class() -> Any:
    """The ModelProto message class (built once per process, ~1 ms)."""
    from google.protobuf import descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(DESCRIPTOR_FILE.read_bytes())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("onnx.ModelProto"))


def parse_model(model_bytes: bytes) -> Any:
    """A ModelProto; raises google.protobuf.message.DecodeError on bytes that are not one."""
    model = model_proto_class()()
    model.ParseFromString(model_bytes)
    return model
