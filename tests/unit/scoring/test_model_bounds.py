"""Tenant ONNX models are bounded: static graph checks before onnxruntime, a time limit on runs."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import onnx
import pytest

from chalicelib.scoring import (
    ModelLoadError,
    Scorer,
    graph_checks,
    seal_card,
    validate_model,
    watchdog,
)
from chalicelib.scoring.graph_checks import static_problems
from chalicelib.scoring.runtime import open_session
from chalicelib.scoring.watchdog import RunTimeout, bounded_run
from tests.unit.scoring import hostile
from tests.unit.scoring.conftest import CARD_PATH, ONNX_PATH, SAFE

MARGIN_S = 1.5  # generous: a 2-core CI machine shared with other suites


def codes(problems: list[Any]) -> set[tuple[str, str]]:
    return {(p.pointer, p.code) for p in problems}


def refused(build: Any) -> list[Any]:
    started = time.process_time()
    problems = validate_model(hostile.to_bytes(build), hostile.matrix_card())
    assert time.process_time() - started < 5, "a static refusal costs milliseconds"
    return problems


def test_the_plain_graph_is_acceptable() -> None:
    assert validate_model(hostile.to_bytes(hostile.plain), hostile.matrix_card()) == []


def test_the_loop_attack_is_refused_before_onnxruntime_runs_it() -> None:
    problems = refused(hostile.loop)
    assert ("/model/graph/nodes/1", "operator_not_allowed") in codes(problems)
    detail = next(p.detail for p in problems if p.code == "operator_not_allowed")
    assert detail.startswith("operator Loop is not allowed; allowed (ai.onnx): Abs, Add")
    assert ("/model/graph/nodes/1/attributes/body", "subgraph_not_allowed") in codes(problems)


def test_if_with_subgraphs_is_refused() -> None:
    assert codes(refused(hostile.if_branches)) == {
        ("/model/graph/nodes/1", "operator_not_allowed"),
        ("/model/graph/nodes/1/attributes/then_branch", "subgraph_not_allowed"),
        ("/model/graph/nodes/1/attributes/else_branch", "subgraph_not_allowed"),
    }


def test_a_custom_domain_is_refused_in_the_opsets_and_at_the_node() -> None:
    problems = refused(hostile.custom_domain)
    assert codes(problems) == {("/model/opset_import/1", "domain_not_allowed"),
                               ("/model/graph/nodes/1", "domain_not_allowed")}
    assert "'com.evil'" in problems[0].detail and "ai.onnx.ml" in problems[0].detail


def test_a_giant_initializer_is_refused() -> None:
    problems = refused(hostile.giant_initializer)
    assert codes(problems) == {("/model/graph/initializers/1", "tensor_too_large")}
    assert "1000001 elements: at most 1000000" in problems[0].detail


def test_initializers_are_limited_in_total(monkeypatch) -> None:
    monkeypatch.setattr(graph_checks, "MAX_INITIALIZER_ELEMENTS", 1_000)
    problems = refused(lambda: hostile.giant_initializer(elements=999))
    assert codes(problems) == {("/model/graph/initializers", "initializers_too_large")}
    monkeypatch.setattr(graph_checks, "MAX_INITIALIZER_BYTES", 100)
    assert ("/model/graph/initializers", "initializers_too_large") in codes(
        static_problems(hostile.to_bytes(lambda: hostile.giant_initializer(elements=30))))


def test_too_many_nodes_is_one_problem_not_one_per_node() -> None:
    problems = refused(hostile.many_nodes)
    assert [(p.pointer, p.code, p.detail) for p in problems] == [
        ("/model/graph/nodes", "too_many_nodes", "2003 nodes: at most 2000 are allowed")]


def test_external_data_is_refused_and_never_read() -> None:
    problems = refused(hostile.external_data)
    assert codes(problems) == {("/model/graph/initializers/1", "external_data")}


def test_functions_sparse_tensors_and_opsets_out_of_range() -> None:
    from onnx import helper

    model = hostile.plain()
    model.functions.append(helper.make_function("evil", "F", ["a"], ["b"],
                                                [helper.make_node("Identity", ["a"], ["b"])],
                                                [helper.make_opsetid("", 17)]))
    model.opset_import[0].version = 6
    sparse = model.graph.sparse_initializer.add()
    sparse.dims.extend([100_000, 100_000])  # densified at load: 4e10 bytes from a few bytes
    assert codes(static_problems(model.SerializeToString())) == {
        ("/model/functions", "functions_not_allowed"),
        ("/model/opset_import/0", "opset_not_supported"),
        ("/model/graph/sparse_initializers", "sparse_not_allowed"),
    }


def test_declared_sizes_count_not_the_bytes_sent() -> None:
    """A Constant declaring 10^12 elements with no data is refused on its dims alone."""
    from onnx import TensorProto, helper

    model = hostile.plain()
    value = TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[10**6, 10**6])
    model.graph.node.append(helper.make_node("Constant", [], ["unused"], value=value))
    assert codes(static_problems(model.SerializeToString())) == {
        ("/model/graph/nodes/3/attributes/value", "tensor_too_large"),
        ("/model/graph/initializers", "initializers_too_large")}


def test_tree_ensembles_and_attributes_are_limited(monkeypatch) -> None:
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn import ensemble

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    forest = ensemble.RandomForestClassifier(20, random_state=0).fit(x, x[:, 0] > 0)
    data = skl2onnx.convert_sklearn(
        forest, initial_types=[("float_input", FloatTensorType([None, 3]))],
        options={id(forest): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3},
    ).SerializeToString()
    nodes = sum(t.tree_.node_count for t in forest.estimators_)
    assert static_problems(data) == []
    monkeypatch.setattr(graph_checks, "MAX_TREE_NODES", nodes - 1)
    assert [(p.code, p.detail) for p in static_problems(data)] == [
        ("trees_too_large", f"{nodes} tree-ensemble nodes: at most {nodes - 1} are allowed")]
    monkeypatch.setattr(graph_checks, "MAX_ATTRIBUTE_ELEMENTS", 10)
    assert ("/model/graph/nodes/0/attributes/nodes_treeids", "attribute_too_large") in codes(
        static_problems(data))


def test_garbage_is_refused_by_the_parser() -> None:
    assert codes(static_problems(b"\xff\xff\xff\xff")) == {("/model", "load_failed")}


def test_problems_are_capped(monkeypatch) -> None:
    monkeypatch.setattr(graph_checks, "MAX_NODE_INPUTS", 0)
    assert len(static_problems(hostile.to_bytes(lambda: hostile.many_nodes(100)))) == \
        graph_checks.MAX_PROBLEMS


@pytest.mark.parametrize("family", ["logistic", "tree", "forest", "boosting", "scaled",
                                    "imputed", "binned", "normalized", "calibrated", "mlp",
                                    "one_hot", "ordinal"])
def test_what_skl2onnx_emits_for_credit_models_passes(family: str) -> None:
    """The allowlist must not refuse real scorecards, linear models and tree ensembles."""
    import pandas as pd
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn import (
        calibration,
        compose,
        ensemble,
        impute,
        linear_model,
        neural_network,
        pipeline,
        preprocessing,
        tree,
    )

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = (x[:, 0] + rng.normal(size=200) > 0).astype(int)
    lr = linear_model.LogisticRegression
    numeric = {
        "logistic": lr(), "tree": tree.DecisionTreeClassifier(max_depth=4),
        "forest": ensemble.RandomForestClassifier(10, max_depth=4),
        "boosting": ensemble.GradientBoostingClassifier(n_estimators=10),
        "scaled": pipeline.make_pipeline(preprocessing.StandardScaler(),
                                         preprocessing.MinMaxScaler(), lr()),
        "imputed": pipeline.make_pipeline(impute.SimpleImputer(), preprocessing.Binarizer(),
                                          lr()),
        "binned": pipeline.make_pipeline(preprocessing.KBinsDiscretizer(4, encode="onehot-dense"),
                                         lr()),
        "normalized": pipeline.make_pipeline(preprocessing.Normalizer(), lr()),
        "calibrated": calibration.CalibratedClassifierCV(lr(), cv=2),
        "mlp": neural_network.MLPClassifier((4,), solver="lbfgs", max_iter=500),
    }
    if family in numeric:
        model = numeric[family].fit(x, y)
        types: list[Any] = [("float_input", FloatTensorType([None, 3]))]
    else:
        frame = pd.DataFrame({"housing": rng.choice(["own", "rent", "free"], 200),
                              "amount": x[:, 0]})
        encoder = (preprocessing.OneHotEncoder(handle_unknown="ignore") if family == "one_hot"
                   else preprocessing.OrdinalEncoder())
        model = pipeline.Pipeline([
            ("columns", compose.ColumnTransformer([("cat", encoder, ["housing"]),
                                                   ("num", "passthrough", ["amount"])])),
            ("fit", lr() if family == "one_hot" else tree.DecisionTreeClassifier()),
        ]).fit(frame, y)
        types = [("housing", StringTensorType([None, 1])), ("amount", FloatTensorType([None, 1]))]
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    data = skl2onnx.convert_sklearn(model, initial_types=types,
                                    options={id(final): {"zipmap": False}},
                                    target_opset={"": 17, "ai.onnx.ml": 3}).SerializeToString()
    assert static_problems(data) == []


def test_the_shipped_model_passes_the_static_checks() -> None:
    assert static_problems(ONNX_PATH.read_bytes()) == []


# --- the run's time limit ---------------------------------------------------------------------

def loop_session() -> Any:
    """The Loop attack in a real session: what the static checks keep out, run anyway."""
    return open_session(hostile.to_bytes(hostile.loop))


def test_the_watchdog_stops_a_run_of_days_within_its_limit() -> None:
    session = loop_session()
    started = time.monotonic()
    with pytest.raises(RunTimeout, match=r"time limit of 0\.3 s"):
        bounded_run(session, ["probabilities"], {"float_input": np.zeros((1, 3), np.float32)},
                    seconds=0.3)
    assert time.monotonic() - started < 0.3 + MARGIN_S
    ok = bounded_run(open_session(hostile.to_bytes(hostile.plain)), ["probabilities"],
                     {"float_input": np.zeros((1, 3), np.float32)})
    assert ok[0].shape == (1, 2)  # the shared watchdog thread carries on


def test_one_runs_deadline_never_stops_another() -> None:
    slow_done: list[BaseException] = []
    feed = {"float_input": np.zeros((1, 3), np.float32)}

    def attack() -> None:
        try:
            bounded_run(loop_session(), ["probabilities"], feed, seconds=0.5)
        except RunTimeout as e:
            slow_done.append(e)

    thread = threading.Thread(target=attack)
    thread.start()
    plain = open_session(hostile.to_bytes(hostile.plain))
    for _ in range(50):  # each armed with a 30 s deadline while the attack's 0.5 s one fires
        assert bounded_run(plain, ["probabilities"], feed, seconds=30)[0].shape == (1, 2)
    thread.join(timeout=0.5 + MARGIN_S)
    assert not thread.is_alive() and len(slow_done) == 1


def test_a_scorer_turns_the_stop_into_a_clean_model_error(monkeypatch) -> None:
    card = json.loads(CARD_PATH.read_text())
    scorer = Scorer(card, ONNX_PATH.read_bytes())
    monkeypatch.setattr(watchdog, "MAX_RUN_SECONDS", 0)  # stopped before its first kernel
    with pytest.raises(ModelLoadError) as caught:
        scorer.score(SAFE)
    assert caught.value.kind == "model-load-error"
    assert [(e.pointer, e.code) for e in caught.value.errors] == [
        ("/model", "time_budget_exceeded")]
    assert "exceeded its time budget" in caught.value.errors[0].detail


def test_an_allowlisted_but_slow_model_is_refused_at_validation() -> None:
    """1,500 Sigmoids over a broadcast [3, 10^6] tensor pass every static check and run ~3.6 s
    here: the smoke run is stopped at MAX_RUN_SECONDS and the model refused."""
    data = hostile.to_bytes(lambda: hostile.slow(1_500))
    assert static_problems(data) == []
    started = time.monotonic()
    problems = validate_model(data, hostile.matrix_card())
    assert [(p.pointer, p.code) for p in problems] == [("/model", "time_budget_exceeded")]
    assert f"time limit of {watchdog.MAX_RUN_SECONDS:g} s" in problems[0].detail
    assert time.monotonic() - started < watchdog.MAX_RUN_SECONDS + 2 * MARGIN_S


def test_tensors_outgrowing_the_arena_fail_the_run_cleanly() -> None:
    """360 MB of intermediate tensors from 4 MB of initializers: no static check sees it; the
    capped arena refuses the allocation and validation reports it (old code: accepted)."""
    data = hostile.to_bytes(hostile.broadcast_blowup)
    assert static_problems(data) == []
    problems = validate_model(data, hostile.matrix_card())
    assert [(p.pointer, p.code) for p in problems] == [("/model", "inference_failed")]
    assert "smaller than requested bytes" in problems[0].detail
    scorer_data = hostile.to_bytes(hostile.plain)  # the arena still serves the next model
    assert validate_model(scorer_data, hostile.matrix_card()) == []


def test_a_stored_model_from_before_the_checks_is_stopped_at_scoring() -> None:
    """Sealed and stored before the static checks existed: loading it still works, and every
    score is stopped at the run limit with a clean model error."""
    data = hostile.to_bytes(hostile.loop)
    scorer = Scorer(seal_card(hostile.matrix_card(), data), data)
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as caught:
        scorer.score({"income": 1, "debt_ratio": 0.5, "age": 3})
    assert time.monotonic() - started < watchdog.MAX_RUN_SECONDS + MARGIN_S
    assert [e.code for e in caught.value.errors] == ["time_budget_exceeded"]


def test_the_vendored_schema_is_the_installed_onnx_one() -> None:
    """Fails on an onnx upgrade until onnx-ml.descriptor.bin is regenerated (see onnx_proto):
    a field the vendored schema lacks would be parsed as unknown and never checked."""
    from onnx import onnx_ml_pb2

    from chalicelib.scoring.onnx_proto import DESCRIPTOR_FILE, parse_model

    assert DESCRIPTOR_FILE.read_bytes() == onnx_ml_pb2.DESCRIPTOR.serialized_pb
    assert parse_model(ONNX_PATH.read_bytes()).SerializeToString() == \
        onnx.load_from_string(ONNX_PATH.read_bytes()).SerializeToString()
