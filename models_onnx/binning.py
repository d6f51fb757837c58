"""Fixed-edge binning for scorecards, with an exact ONNX converter.

sklearn's KBinsDiscretizer learns its edges from data; a scorecard needs edges written down once
(reviewed, monotone, explainable) and never re-learnt, so this transformer takes them as a
parameter. Bins are half-open [lo, hi), matching the runtime's attribute lookup, and the ONNX graph
reproduces them with two `Less` comparisons per column (one-hot = [x < hi] - [x < lo]).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

Edges = Sequence[Sequence[float]]


class FixedBins(TransformerMixin, BaseEstimator):
    """One-hot encode each numeric column by fixed inner edges (k edges → k+1 bins)."""

    def __init__(self, edges: Edges = ()) -> None:
        self.edges = edges

    def fit(self, X: Any, y: Any = None) -> FixedBins:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.edges):
            raise ValueError(f"expected {len(self.edges)} columns, got shape {X.shape}")
        for inner in self.edges:
            if list(inner) != sorted(set(inner)):
                raise ValueError(f"edges must be strictly increasing: {inner}")
        self.n_features_in_ = X.shape[1]
        return self

    def bounds(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bound of every bin of a column (open-ended at both ends)."""
        inner = np.asarray(self.edges[column], dtype=np.float64)
        lo = np.concatenate([[-np.inf], inner])
        hi = np.concatenate([inner, [np.inf]])
        return lo, hi

    def transform(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        blocks = []
        for j in range(X.shape[1]):
            lo, hi = self.bounds(j)
            col = X[:, j : j + 1]
            blocks.append(((col >= lo) & (col < hi)).astype(np.float64))
        return np.hstack(blocks)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = []
        for j, inner in enumerate(self.edges):
            base = input_features[j] if input_features is not None else f"x{j}"
            names += [f"{base}_bin{b}" for b in range(len(inner) + 1)]
        return np.asarray(names, dtype=object)


def _shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    op: FixedBins = operator.raw_operator
    width = sum(len(inner) + 1 for inner in op.edges)
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([n, width])


def _convert(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto

    op: FixedBins = operator.raw_operator
    x = scope.get_unique_variable_name("fixedbins_x")
    container.add_node(
        "Cast", [operator.inputs[0].full_name], x, to=TensorProto.FLOAT,
        name=scope.get_unique_operator_name("Cast"),
    )
    blocks = []
    for j in range(len(op.edges)):
        lo, hi = op.bounds(j)
        # float32 max stands in for infinity: every finite float32 input is below it.
        big = float(np.finfo(np.float32).max)
        lo32 = np.where(np.isinf(lo), -big, lo).astype(np.float32)
        hi32 = np.where(np.isinf(hi), big, hi).astype(np.float32)
        idx, col = scope.get_unique_variable_name("idx"), scope.get_unique_variable_name("col")
        container.add_initializer(idx, TensorProto.INT64, [1], [j])
        container.add_node(
            "Gather", [x, idx], col, axis=1, name=scope.get_unique_operator_name("Gather")
        )
        flags = []
        for tag, bound in (("hi", hi32), ("lo", lo32)):
            b = scope.get_unique_variable_name(f"bound_{tag}")
            container.add_initializer(b, TensorProto.FLOAT, [len(bound)], bound.tolist())
            less = scope.get_unique_variable_name(f"less_{tag}")
            container.add_node(
                "Less", [col, b], less, name=scope.get_unique_operator_name("Less")
            )
            as_float = scope.get_unique_variable_name(f"flag_{tag}")
            container.add_node(
                "Cast", [less], as_float, to=TensorProto.FLOAT,
                name=scope.get_unique_operator_name("Cast"),
            )
            flags.append(as_float)
        onehot = scope.get_unique_variable_name("onehot")
        container.add_node(
            "Sub", flags, onehot, name=scope.get_unique_operator_name("Sub")
        )
        blocks.append(onehot)
    container.add_node(
        "Concat", blocks, operator.outputs[0].full_name, axis=1,
        name=scope.get_unique_operator_name("Concat"),
    )


def register_converter() -> None:
    """Teach skl2onnx about FixedBins (idempotent)."""
    from skl2onnx import update_registered_converter

    update_registered_converter(FixedBins, "LendingFixedBins", _shape, _convert)
