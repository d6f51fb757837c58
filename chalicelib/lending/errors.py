"""The domain's one error type, shaped so the API can render it as a 422 problem as-is.

Every check in `lending/` reports *all* the problems it finds, each with a field path
(`loc`) in the same shape pydantic uses, so the HTTP layer merges both kinds without mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input: where (`loc`), what (`msg`), and a stable code (`type`)."""

    loc: Loc
    msg: str
    type: str
    ctx: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"loc": list(self.loc), "msg": self.msg, "type": self.type}
        if self.ctx:
            out["ctx"] = dict(self.ctx)
        return out

    def under(self, *prefix: str | int) -> Problem:
        """The same problem seen from an enclosing object (prefixing its path)."""
        return Problem((*prefix, *self.loc), self.msg, self.type, self.ctx)


class LendingError(ValueError):
    """Raised by pure domain functions when their input cannot be honoured.

    A subclass of ValueError so that, raised inside a pydantic validator, it still becomes a
    validation error; outside pydantic the API layer maps it to 422 with `errors()`.
    """

    def __init__(self, problems: Iterable[Problem]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("LendingError needs at least one problem")
        super().__init__("; ".join(_describe(p) for p in self.problems))

    @classmethod
    def single(cls, loc: Loc | str, msg: str, type_: str, **ctx: Any) -> LendingError:
        path: Loc = (loc,) if isinstance(loc, str) else loc
        return cls([Problem(path, msg, type_, ctx)])

    def errors(self) -> list[dict[str, Any]]:
        return [p.as_dict() for p in self.problems]

    def under(self, *prefix: str | int) -> LendingError:
        return LendingError(p.under(*prefix) for p in self.problems)


def _describe(p: Problem) -> str:
    where = ".".join(str(part) for part in p.loc)
    return f"{where}: {p.msg}" if where else p.msg
