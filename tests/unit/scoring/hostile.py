"""Hostile and oversized ONNX graphs for the model-bound tests, built with onnx.helper.

Every graph takes `float_input` [N, 3] and answers `probabilities` [N, 2] (a softmax), so the
matrix card below fits it and, on the code before the bounds, each would have passed validation
(or, for the Loop, run for days inside it).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

NAMES = ["income", "debt_ratio", "age"]
TRIP_COUNT = 10**12  # the Loop: days of work in 300 bytes


def matrix_card() -> dict[str, Any]:
    return {
        "model_id": "acme-pd", "version": "2",
        "onnx": {"input_layout": "matrix", "input_name": "float_input"},
        "inputs": [{"name": n, "type": "numeric", "minimum": -5, "maximum": 5} for n in NAMES],
        "outputs": {"probability_of_default": {"name": "probabilities", "index": 1}},
    }


def _model(nodes: list[Any], initializers: list[Any], logits: str = "logits",
           opsets: dict[str, int] | None = None, **extra: Any) -> Any:
    """float_input → MatMul(W) → `logits` (what `nodes` make of it) → Softmax → probabilities."""
    weights = numpy_helper.from_array(np.array([[0.5, -0.5], [-1.0, 1.0], [0.1, -0.1]],
                                               dtype=np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["float_input", "W"], ["scores"]), *nodes,
         helper.make_node("Softmax", [logits], ["probabilities"], axis=1)],
        "hostile",
        [helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        [weights, *initializers],
    )
    opset_imports = [helper.make_opsetid(d, v) for d, v in (opsets or {"": 17}).items()]
    model = helper.make_model(graph, opset_imports=opset_imports, **extra)
    model.ir_version = 8
    return model


def to_bytes(build: Callable[[], Any]) -> bytes:
    return bytes(build().SerializeToString())


def plain() -> Any:
    """The acceptable base: probabilities = softmax(x · W)."""
    return _model([helper.make_node("Identity", ["scores"], ["logits"])], [])


def loop(trip_count: int = TRIP_COUNT) -> Any:
    """The issue's attack: a Loop that passes the scores through `trip_count` times."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["carried_in"], ["carried_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("carried_in", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("carried_out", TensorProto.FLOAT, [None, 2])],
    )
    return _model(
        [helper.make_node("Loop", ["trips", "keep_going", "scores"], ["logits"], body=body)],
        [helper.make_tensor("trips", TensorProto.INT64, [], [trip_count]),
         helper.make_tensor("keep_going", TensorProto.BOOL, [], [True])],
    )


def if_branches() -> Any:
    """An If whose both branches are graphs (the scores or their negation)."""
    def branch(name: str, op: str) -> Any:
        return helper.make_graph([helper.make_node(op, ["scores"], [f"{name}_out"])], name, [],
                                 [helper.make_tensor_value_info(f"{name}_out",
                                                                TensorProto.FLOAT, [None, 2])])
    return _model(
        [helper.make_node("If", ["flag"], ["logits"], then_branch=branch("then", "Identity"),
                          else_branch=branch("else", "Neg"))],
        [helper.make_tensor("flag", TensorProto.BOOL, [], [True])],
    )


def custom_domain() -> Any:
    """An operator from a domain of the tenant's own (a custom-op library would implement it)."""
    return _model([helper.make_node("Steal", ["scores"], ["logits"], domain="com.evil")], [],
                  opsets={"": 17, "com.evil": 1})


def giant_initializer(elements: int = 1_000_001) -> Any:
    """An initializer one element over the per-tensor limit, added to the scores as zero."""
    return _model(
        [helper.make_node("ReduceSum", ["ballast"], ["zero"], keepdims=0),
         helper.make_node("Mul", ["zero", "nothing"], ["none"]),
         helper.make_node("Add", ["scores", "none"], ["logits"])],
        [numpy_helper.from_array(np.zeros(elements, dtype=np.float32), "ballast"),
         helper.make_tensor("nothing", TensorProto.FLOAT, [], [0.0])],
    )


def many_nodes(count: int = 2_001) -> Any:
    """A chain of `count` Identity nodes between the scores and the softmax."""
    names = ["scores", *(f"h{i}" for i in range(count - 1)), "logits"]
    return _model([helper.make_node("Identity", [a], [b]) for a, b in pairwise(names)], [])


def external_data() -> Any:
    """An initializer whose data is a file on the scoring host's disk."""
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [2], [0.0, 0.0])
    bias.ClearField("float_data")
    bias.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "/etc/passwd"), ("offset", "0"), ("length", "8")):
        entry = bias.external_data.add()
        entry.key, entry.value = key, value
    return _model([helper.make_node("Add", ["scores", "bias"], ["logits"])], [bias])


def slow(layers: int, width: int = 1_000_000) -> Any:
    """Only allowlisted operators and every declared size within its limit, yet slow: the scores
    broadcast against a [1, width] row of zeros, then `layers` Sigmoids over the [N, width]
    result, averaged back into the scores."""
    names = [f"h{i}" for i in range(layers + 1)]
    nodes = [helper.make_node("ReduceSum", ["scores", "axis"], ["total"], keepdims=1),
             helper.make_node("Add", ["total", "row"], [names[0]])]
    nodes += [helper.make_node("Sigmoid", [a], [b]) for a, b in pairwise(names)]
    nodes += [helper.make_node("ReduceMean", [names[-1]], ["mean"], axes=[1], keepdims=1),
              helper.make_node("Add", ["scores", "mean"], ["logits"])]
    return _model(nodes, [numpy_helper.from_array(np.zeros((1, width), dtype=np.float32), "row"),
                          helper.make_tensor("axis", TensorProto.INT64, [1], [1])])


def broadcast_blowup(depth: int = 30, width: int = 1_000_000) -> Any:
    """Small initializers, huge tensors: [N, 1] + [1, width], then + [1, 1, depth], i.e.
    N x width x depth floats (360 MB for validation's three rows) from 4 MB of initializers."""
    return _model([
        helper.make_node("ReduceSum", ["scores", "axis"], ["total"], keepdims=1),
        helper.make_node("Add", ["total", "row"], ["wide"]),
        helper.make_node("Unsqueeze", ["wide", "last"], ["column"]),
        helper.make_node("Add", ["column", "deep"], ["cube"]),
        helper.make_node("ReduceMean", ["cube"], ["plane"], axes=[2], keepdims=0),
        helper.make_node("ReduceMean", ["plane"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Add", ["scores", "mean"], ["logits"]),
    ], [numpy_helper.from_array(np.zeros((1, width), dtype=np.float32), "row"),
        numpy_helper.from_array(np.zeros((1, 1, depth), dtype=np.float32), "deep"),
        helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
        helper.make_tensor("last", TensorProto.INT64, [1], [2])])
