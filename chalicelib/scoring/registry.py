"""Process-wide model cache: each model is fetched, verified and loaded once per Lambda container.

Keyed by (model id, version, SHA-256 from the card), so a re-sealed model with the same version
never reuses a stale session. The storage layer passes a `fetch` callable (S3 get) that runs only
on a cache miss; the shipped default model is read from disk the same way.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.scoring.card import ModelCard, parse_card
from chalicelib.scoring.errors import ModelIntegrityError
from chalicelib.scoring.runtime import Scorer

DEFAULT_MODEL = "german_credit_v1"
# Where the shipped model may live: beside this package once packaged (chalice ships only
# chalicelib/), else the repository's models_onnx/ (development and tests).
MODEL_DIRS = (
    Path(__file__).resolve().parent / "models",
    Path(__file__).resolve().parents[2] / "models_onnx",
)

Key = tuple[str, str, str]


class ModelRegistry:
    """LRU cache of Scorers; loading happens outside the lock so one slow S3 fetch of a model
    does not block scoring with the models already loaded."""

    def __init__(self, max_models: int = 8) -> None:
        self.max_models = max_models
        self._scorers: OrderedDict[Key, Scorer] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times a model was actually fetched and loaded

    def get(self, card: ModelCard | Mapping[str, Any], fetch: Callable[[], bytes]) -> Scorer:
        hit = self._cached(_raw_key(card))  # a hit skips parsing the card (~0.7 ms)
        if hit is not None:
            return hit
        parsed = parse_card(card)
        if not parsed.sha256:
            raise ModelIntegrityError.of(parsed.ref, "(none: the card is not sealed)", "-")
        hit = self._cached(parsed.key)
        if hit is not None:
            return hit
        scorer = Scorer(parsed, fetch())  # verifies the SHA-256 before creating the session
        with self._lock:
            self.loads += 1
            scorer = self._scorers.setdefault(parsed.key, scorer)
            self._scorers.move_to_end(parsed.key)
            while len(self._scorers) > self.max_models:
                self._scorers.popitem(last=False)
        return scorer

    def _cached(self, key: Key | None) -> Scorer | None:
        if key is None:
            return None
        with self._lock:
            hit = self._scorers.get(key)
            if hit is not None:
                self._scorers.move_to_end(key)
            return hit

    def load(self, model_bytes: bytes, card: ModelCard | Mapping[str, Any]) -> Scorer:
        return self.get(card, lambda: model_bytes)

    def cached(self) -> list[Key]:
        with self._lock:
            return list(self._scorers)

    def clear(self) -> None:
        with self._lock:
            self._scorers.clear()


def _raw_key(card: ModelCard | Mapping[str, Any]) -> Key | None:
    if isinstance(card, ModelCard):
        return card.key if card.sha256 else None
    onnx = card.get("onnx")
    key = (card.get("model_id"), card.get("version"), onnx.get("sha256")
           if isinstance(onnx, Mapping) else None)
    return key if all(isinstance(k, str) and k for k in key) else None  # type: ignore[return-value]


REGISTRY = ModelRegistry()


def shipped_model_dir() -> Path:
    for d in MODEL_DIRS:
        if (d / f"{DEFAULT_MODEL}.card.json").is_file():
            return d
    searched = [str(d) for d in MODEL_DIRS]
    raise FileNotFoundError(f"{DEFAULT_MODEL}.card.json not found in {searched}")


@cache
def shipped_card(name: str = DEFAULT_MODEL) -> ModelCard:
    return parse_card(json.loads((shipped_model_dir() / f"{name}.card.json").read_text()))


def default_scorer(registry: ModelRegistry = REGISTRY, name: str = DEFAULT_MODEL) -> Scorer:
    """The shipped German Credit model (every tenant's default until they activate their own)."""
    card = shipped_card(name)
    file = str(card.raw["onnx"].get("file") or f"{name}.onnx")
    return registry.get(card, lambda: (shipped_model_dir() / file).read_bytes())
