"""Static checks on a tenant's ONNX graph, before onnxruntime ever sees the bytes.

Creating a session already runs work (graph resolution, initializer unpacking, and with
optimisation on, constant folding), so a hostile graph must be refused from its protobuf alone.
What is allowed is what scorecards, linear models and tree ensembles need, as skl2onnx emits them:
no control flow (Loop, Scan, If, ...), no operator that makes a tensor of a data-dependent size
(Range, ConstantOfShape, Expand, Tile, Pad, NonZero, OneHot, ...), no sub-graphs, functions,
sparse or external tensors, no domain but ai.onnx and ai.onnx.ml, and limits on every size a
graph can declare. docs/security.md ("Tenant scoring models are bounded") lists each limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from chalicelib.scoring.errors import FieldError

AI_ONNX, AI_ONNX_ML = "ai.onnx", "ai.onnx.ml"
# Elementwise, reductions, and shape-preserving/shrinking ops: none makes more elements than its
# inputs and initializers hold (broadcasting aside, which the tensor limits bound).
ALLOWED_OPS: dict[str, frozenset[str]] = {
    AI_ONNX: frozenset({
        "Abs", "Add", "And", "ArgMax", "ArgMin", "Cast", "CastLike", "Ceil", "Clip", "Concat",
        "Constant", "Div", "Equal", "Erf", "Exp", "Flatten", "Floor", "Gather", "GatherElements",
        "Gemm", "Greater", "GreaterOrEqual", "Identity", "IsInf", "IsNaN", "LeakyRelu", "Less",
        "LessOrEqual", "Log", "LogSoftmax", "MatMul", "Max", "Mean", "Min", "Mod", "Mul", "Neg",
        "Not", "Or", "Pow", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
        "ReduceSumSquare", "Relu", "Reshape", "Round", "Shape", "Sigmoid", "Sign", "Size",
        "Slice", "Softmax", "Softplus", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh",
        "Transpose", "Unsqueeze", "Where", "Xor",
    }),
    AI_ONNX_ML: frozenset({
        "ArrayFeatureExtractor", "Binarizer", "CategoryMapper", "FeatureVectorizer", "Imputer",
        "LabelEncoder", "LinearClassifier", "LinearRegressor", "Normalizer", "OneHotEncoder",
        "Scaler", "TreeEnsemble", "TreeEnsembleClassifier", "TreeEnsembleRegressor", "ZipMap",
    }),
}
TREE_OPS = frozenset({"TreeEnsemble", "TreeEnsembleClassifier", "TreeEnsembleRegressor"})
OPSET_RANGE = {AI_ONNX: (7, 23), AI_ONNX_ML: (1, 5)}  # onnxruntime 1.32 runs all of these

MAX_NODES = 2_000
MAX_GRAPH_INPUTS = 256
MAX_GRAPH_OUTPUTS = 16
MAX_NODE_INPUTS = 1_024  # a Concat of one column per characteristic
MAX_TENSOR_ELEMENTS = 1_000_000  # one initializer or Constant
MAX_INITIALIZER_ELEMENTS = 4_000_000  # all of them together
MAX_INITIALIZER_BYTES = 32 * 1024 * 1024  # declared size, as onnxruntime would allocate it
MAX_ATTRIBUTE_ELEMENTS = 1_000_000  # one attribute's list (a tree ensemble's nodes_* lists)
MAX_TREE_NODES = 250_000  # all tree-ensemble nodes in the model
MAX_PROBLEMS = 20  # a 422 names the first ones, not ten thousand

_GRAPH, _GRAPHS, _SPARSE_TENSOR, _SPARSE_TENSORS = 5, 10, 11, 12  # AttributeProto.AttributeType
_STRING, _EXTERNAL = 8, 1  # TensorProto.DataType.STRING, TensorProto.DataLocation.EXTERNAL
# Bytes per element by TensorProto.DataType (sub-byte types rounded up); strings count their data.
_ITEM_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8,
               14: 8, 15: 16, 16: 2}


def static_problems(model_bytes: bytes) -> list[FieldError]:
    """Every reason (up to MAX_PROBLEMS) this graph may not reach onnxruntime; [] if none."""
    from google.protobuf.message import DecodeError

    from chalicelib.scoring.onnx_proto import parse_model

    try:
        model = parse_model(model_bytes)
    except (DecodeError, RecursionError) as e:
        return [FieldError("/model", f"not an ONNX model: {e}", "load_failed")]
    if not model.HasField("graph"):
        return [FieldError("/model/graph", "the model has no graph", "load_failed")]
    problems = [*_model_level(model), *_sizes(model.graph)]
    if len(model.graph.node) <= MAX_NODES:  # else that is the problem, not each node
        problems += _nodes(model.graph.node)
    return problems[:MAX_PROBLEMS]


def _domain(name: str) -> str:
    return AI_ONNX if name in ("", AI_ONNX) else name


def _allowed_domains() -> str:
    return "'' (ai.onnx), ai.onnx.ml"


def _model_level(model: Any) -> list[FieldError]:
    problems = []
    for i, opset in enumerate(model.opset_import):
        at, domain = f"/model/opset_import/{i}", _domain(opset.domain)
        bounds = OPSET_RANGE.get(domain)
        if bounds is None:
            problems.append(FieldError(at, f"domain {opset.domain!r} is not allowed; allowed: "
                                       f"{_allowed_domains()}", "domain_not_allowed"))
        elif not bounds[0] <= opset.version <= bounds[1]:
            problems.append(FieldError(at, f"{domain} opset {opset.version} is not supported; "
                                       f"supported: {bounds[0]} to {bounds[1]}",
                                       "opset_not_supported"))
    if model.functions:
        problems.append(FieldError("/model/functions", f"{len(model.functions)} model-local "
                                   "function(s): functions are not allowed",
                                   "functions_not_allowed"))
    if model.training_info:
        problems.append(FieldError("/model/training_info", "training information is not "
                                   "allowed in a scoring model", "training_not_allowed"))
    return problems


def _sizes(graph: Any) -> list[FieldError]:
    problems = []
    for what, items, limit in (("nodes", graph.node, MAX_NODES),
                               ("inputs", graph.input, MAX_GRAPH_INPUTS),
                               ("outputs", graph.output, MAX_GRAPH_OUTPUTS)):
        if len(items) > limit:
            problems.append(FieldError(f"/model/graph/{what}", f"{len(items)} {what}: at most "
                                       f"{limit} are allowed", f"too_many_{what}"))
    if graph.sparse_initializer:
        problems.append(FieldError("/model/graph/sparse_initializers", "sparse initializers "
                                   "are not allowed (onnxruntime densifies them at load)",
                                   "sparse_not_allowed"))
    constants = [(f"/model/graph/nodes/{i}/attributes/{a.name}", a.t)
                 for i, node in enumerate(graph.node[:MAX_NODES]) for a in node.attribute
                 if a.HasField("t")]
    tensors = [(f"/model/graph/initializers/{i}", t) for i, t in enumerate(graph.initializer)]
    elements = size = 0
    for at, tensor in tensors + constants:
        n = math.prod(tensor.dims)
        problems += _tensor(at, tensor, n)
        elements += max(n, 0)
        size += _declared_bytes(tensor, n)
    if elements > MAX_INITIALIZER_ELEMENTS:
        problems.append(FieldError("/model/graph/initializers", f"{elements} elements in all: "
                                   f"at most {MAX_INITIALIZER_ELEMENTS} are allowed",
                                   "initializers_too_large"))
    if size > MAX_INITIALIZER_BYTES:
        problems.append(FieldError("/model/graph/initializers", f"{size} bytes in all: at most "
                                   f"{MAX_INITIALIZER_BYTES} are allowed",
                                   "initializers_too_large"))
    return problems


def _tensor(at: str, tensor: Any, elements: int) -> list[FieldError]:
    if tensor.data_location == _EXTERNAL or tensor.external_data:
        return [FieldError(at, f"tensor {tensor.name!r} keeps its data in an external file: "
                           "external data is not allowed", "external_data")]
    if any(d < 0 for d in tensor.dims):
        return [FieldError(at, f"tensor {tensor.name!r} has a negative dimension "
                           f"{list(tensor.dims)}", "bad_tensor")]
    if elements > MAX_TENSOR_ELEMENTS:
        return [FieldError(at, f"tensor {tensor.name!r} has {elements} elements: at most "
                           f"{MAX_TENSOR_ELEMENTS} are allowed", "tensor_too_large")]
    return []


def _declared_bytes(tensor: Any, elements: int) -> int:
    if tensor.data_type == _STRING:
        return sum(len(s) for s in tensor.string_data)
    return max(elements, 0) * _ITEM_BYTES.get(tensor.data_type, 1)


def _nodes(nodes: Iterable[Any]) -> list[FieldError]:
    problems: list[FieldError] = []
    tree_nodes = 0
    for i, node in enumerate(nodes):
        at, domain = f"/model/graph/nodes/{i}", _domain(node.domain)
        allowed = ALLOWED_OPS.get(domain)
        if allowed is None:
            problems.append(FieldError(at, f"operator {node.op_type} of domain {node.domain!r}:"
                                       f" the domain is not allowed; allowed: "
                                       f"{_allowed_domains()}", "domain_not_allowed"))
        elif node.op_type not in allowed:
            problems.append(FieldError(at, f"operator {node.op_type} is not allowed; allowed "
                                       f"({domain}): {', '.join(sorted(allowed))}",
                                       "operator_not_allowed"))
        if len(node.input) > MAX_NODE_INPUTS:
            problems.append(FieldError(at, f"{len(node.input)} inputs: at most "
                                       f"{MAX_NODE_INPUTS} are allowed", "too_many_inputs"))
        problems += _attributes(at, node)
        if node.op_type in TREE_OPS and domain == AI_ONNX_ML:
            tree_nodes += max((_attribute_elements(a) for a in node.attribute
                               if a.name.startswith("nodes_")), default=0)
        if len(problems) >= MAX_PROBLEMS:
            return problems
    if tree_nodes > MAX_TREE_NODES:
        problems.append(FieldError("/model/graph/nodes", f"{tree_nodes} tree-ensemble nodes: "
                                   f"at most {MAX_TREE_NODES} are allowed", "trees_too_large"))
    return problems


def _attributes(at: str, node: Any) -> list[FieldError]:
    """Sub-graphs, sparse and tensor lists refused; list lengths bounded (a tensor attribute is
    bounded with the initializers, by `_sizes`)."""
    problems = []
    for a in node.attribute:
        where = f"{at}/attributes/{a.name}"
        if a.HasField("g") or a.graphs or a.type in (_GRAPH, _GRAPHS):
            problems.append(FieldError(where, f"operator {node.op_type} carries a sub-graph: "
                                       "graph attributes are not allowed", "subgraph_not_allowed"))
        elif a.HasField("sparse_tensor") or a.sparse_tensors or a.type in (_SPARSE_TENSOR,
                                                                           _SPARSE_TENSORS):
            problems.append(FieldError(where, "sparse tensors are not allowed",
                                       "sparse_not_allowed"))
        elif a.tensors:
            problems.append(FieldError(where, "tensor-list attributes are not allowed",
                                       "attribute_not_allowed"))
        elif not a.HasField("t") and _attribute_elements(a) > MAX_ATTRIBUTE_ELEMENTS:
            problems.append(FieldError(where, f"{_attribute_elements(a)} values: at most "
                                       f"{MAX_ATTRIBUTE_ELEMENTS} are allowed",
                                       "attribute_too_large"))
    return problems


def _attribute_elements(a: Any) -> int:
    """List length of an attribute (a tensor attribute counts its elements)."""
    if a.HasField("t"):
        return max(math.prod(a.t.dims), 0)
    return len(a.floats) + len(a.ints) + len(a.strings)
