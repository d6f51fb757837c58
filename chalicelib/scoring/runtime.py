"""The scorer: one onnxruntime session per model, fed straight from validated feature dicts.

onnxruntime is imported inside `open_session` only (it costs ~230 ms at import, and most Lambda
invocations never score), so importing this module stays cheap on a cold start.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chalicelib.scoring.card import ModelCard, parse_card
from chalicelib.scoring.errors import FieldError, ModelIntegrityError, ModelLoadError
from chalicelib.scoring.features import (
    NUMPY_TYPES,
    Row,
    build_feed,
    validate_features,
    validate_rows,
)
from chalicelib.scoring.reasons import (
    MAX_REASONS,
    Reason,
    counterfactual_reasons,
    principal_reasons,
)
from chalicelib.scoring.scale import DEFAULT_GRADES, DEFAULT_SCALE, GradeScale, ScoreScale
from chalicelib.scoring.watchdog import RunTimeout, bounded_run


@dataclass(frozen=True, slots=True)
class ScoreResult:
    model_id: str
    model_version: str
    pd: float  # probability of default (the model's event), 0..1
    score: int  # scorecard points at the scale used
    grade: str
    reasons: tuple[Reason, ...] = field(default=())
    reasons_method: str = "scorecard"  # or "counterfactual" (card without a scorecard)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: PD rounded to 6 places (it is a probability, not money)."""
        return {
            "model": {"id": self.model_id, "version": self.model_version},
            "pd": round(self.pd, 6),
            "score": self.score,
            "grade": self.grade,
            "reasons": [r.as_dict() for r in self.reasons],
            "reasons_method": self.reasons_method,
        }


def time_budget_problem(e: RunTimeout) -> FieldError:
    return FieldError("/model", f"the model exceeded its time budget: {e}",
                      "time_budget_exceeded")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_sha256(model_bytes: bytes, card: ModelCard) -> None:
    """Refuse bytes that are not the ones the card was sealed with."""
    if not card.sha256:
        raise ModelIntegrityError.of(card.ref, "(none: the card is not sealed)",
                                     sha256_hex(model_bytes))
    actual = sha256_hex(model_bytes)
    if actual != card.sha256:
        raise ModelIntegrityError.of(card.ref, card.sha256, actual)


# All sessions' run-time tensors in a process share one CPU arena of at most this size: a graph
# whose tensors outgrow it (broadcasting multiplies sizes that no static check sees) fails its
# run cleanly instead of exhausting the function's memory (the API Lambda has 1,024 MB).
# Initializers are not in it (they are bounded by graph_checks).
MAX_ARENA_BYTES = 256 * 1024 * 1024
_arena_lock = threading.Lock()
_arena_ready = threading.Event()


def _shared_arena() -> None:
    """Registered once per process: a second registration would raise."""
    if _arena_ready.is_set():
        return
    import onnxruntime as ort

    with _arena_lock:
        if not _arena_ready.is_set():
            info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                     ort.OrtMemType.DEFAULT)
            ort.create_and_register_allocator(info, ort.OrtArenaCfg(
                {"max_mem": MAX_ARENA_BYTES, "arena_extend_strategy": 1}))  # grow as requested
            _arena_ready.set()


def open_session(model_bytes: bytes, intra_op_threads: int = 1) -> Any:
    """An onnxruntime InferenceSession on CPU (imports onnxruntime on first call).

    Bounded for tenant graphs: no graph optimisation, so session creation runs no constant
    folding (work no run's time limit covers; the shipped scorecard's session builds in ~4 ms
    instead of ~12 and a run costs the same), the CPU provider only, no custom-op libraries,
    one thread so a model cannot take the other requests' cores, and the process's capped
    arena."""
    import onnxruntime as ort

    _shared_arena()
    options = ort.SessionOptions()
    options.add_session_config_entry("session.use_env_allocators", "1")
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


class Scorer:
    """Scores feature dicts with one verified model. Thread-safe (onnxruntime's run() is)."""

    def __init__(self, card: ModelCard | Mapping[str, Any], model_bytes: bytes,
                 *, intra_op_threads: int = 1) -> None:
        self.card = parse_card(card)
        # Stored bytes passed graph_checks at upload (the SHA-256 proves they are those bytes);
        # not re-checked here, which would import protobuf (~100 ms) on every first load. What
        # bounds any model at scoring, including one stored before the checks, is the run limit.
        verify_sha256(model_bytes, self.card)
        try:
            self._session = open_session(model_bytes, intra_op_threads)
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise ModelLoadError.of(self.card.ref, [
                FieldError("/model", f"onnxruntime cannot load the model: {e}", "load_failed")
            ]) from e
        from chalicelib.scoring.validation import session_problems

        problems = session_problems(self.card, self._session)
        if problems:
            raise ModelLoadError.of(self.card.ref, problems)
        self._input_types = {i.name: i.type for i in self._session.get_inputs()}
        self._output = self.card.pd_output
        self.default_grades = (
            GradeScale(self.card.grades) if self.card.grades else DEFAULT_GRADES
        )

    @property
    def model_id(self) -> str:
        return self.card.model_id

    @property
    def version(self) -> str:
        return self.card.version

    def validate(self, features: Any, pointer: str = "/features") -> Row:
        return validate_features(self.card, features, pointer)

    def predict_pd(self, rows: Sequence[Row]) -> np.ndarray:
        """PDs for already-validated rows (float64, shape [n])."""
        if not rows:
            return np.zeros(0, dtype=np.float64)
        feed = build_feed(self.card, rows, self._input_types)
        try:
            (out,) = bounded_run(self._session, [self._output.name], feed)
        except RunTimeout as e:
            raise ModelLoadError.of(self.card.ref, [time_budget_problem(e)]) from None
        except Exception as e:  # onnxruntime's untyped errors (e.g. an allocation it refused)
            raise ModelLoadError.of(self.card.ref, [FieldError(
                "/model", f"inference failed: {e}", "inference_failed")]) from e
        out = np.asarray(out, dtype=np.float64)
        pd = out[:, self._output.index] if self._output.index is not None else out.reshape(-1)
        if pd.shape != (len(rows),) or not np.all(np.isfinite(pd)):
            raise ModelLoadError.of(self.card.ref, [FieldError(
                "/model/outputs/" + self._output.name,
                f"returned shape {pd.shape} or non-finite values for {len(rows)} rows",
                "bad_output",
            )])
        return np.clip(pd, 0.0, 1.0)

    def score(
        self, features: Any, *, scale: ScoreScale | None = None,
        grades: GradeScale | None = None, max_reasons: int = MAX_REASONS,
        pointer: str = "/features",
    ) -> ScoreResult:
        """Validate, score and explain one application (FeatureValidationError → 422)."""
        row = validate_features(self.card, features, pointer)
        return self._results([row], scale, grades, max_reasons)[0]

    def score_batch(
        self, rows: Sequence[Any], *, scale: ScoreScale | None = None,
        grades: GradeScale | None = None, max_reasons: int = MAX_REASONS,
        pointer: str = "/rows", chunk_size: int = 4096,
    ) -> list[ScoreResult]:
        """Many applications in few session runs; one error lists problems from every row."""
        valid = validate_rows(self.card, rows, pointer)
        out: list[ScoreResult] = []
        for start in range(0, len(valid), chunk_size):
            out += self._results(valid[start:start + chunk_size], scale, grades, max_reasons)
        return out

    def _results(
        self, rows: Sequence[Row], scale: ScoreScale | None, grades: GradeScale | None,
        max_reasons: int,
    ) -> list[ScoreResult]:
        scale = scale or DEFAULT_SCALE
        grades = grades or self.default_grades
        pds = self.predict_pd(rows).tolist()
        if self.card.scorecard:
            method = "scorecard"
            reasons = [principal_reasons(self.card.scorecard, r, scale, max_reasons) for r in rows]
        else:
            method = "counterfactual"
            reasons = counterfactual_reasons(
                self.card, rows, pds, self.predict_pd, scale, max_reasons
            )
        results = []
        for pd, why in zip(pds, reasons, strict=True):
            score = scale.score(pd)
            results.append(ScoreResult(
                self.card.model_id, self.card.version, pd, score, grades.grade(score), why, method
            ))
        return results

    def input_types(self) -> dict[str, str]:
        return dict(self._input_types)


__all__ = [
    "NUMPY_TYPES",
    "ScoreResult",
    "Scorer",
    "open_session",
    "sha256_hex",
    "verify_sha256",
]
