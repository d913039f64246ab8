"""One registry class for every kind of pluggable part: featurizers, splitters, models, baselines,
losses, optimizers, schedulers.

A registered class declares its parameters in its constructor signature (names, types, defaults)
and, where a value has a range or a set of choices, in ``param_constraints``::

    @FEATURIZERS.register
    class ECFP(Featurizer):
        name = "ecfp"
        param_constraints = {"radius": Interval(0, 8), "n_bits": Interval(1, 2**24)}

        def __init__(self, radius: int = 2, n_bits: int = 2048, ...): ...

:mod:`biodl.spec` turns the signature and the constraints into the typed spec the whole config is
checked against before any job runs, so a class and its config check cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from biodl.errors import UserError

T = TypeVar("T")


# ``param_constraints`` maps a parameter name to an Interval, Choices or Length, or a tuple of them.
@dataclass(frozen=True)
class Interval:
    """A numeric range; ``None`` leaves a side open. ``closed`` names the sides that include
    their bound ("both", "left", "right", "neither")."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def bounds(self) -> dict[str, float]:
        """pydantic / JSON-schema keyword arguments: ge / gt / le / lt."""
        out = {}
        if self.low is not None:
            out["ge" if self.closed in ("both", "left") else "gt"] = self.low
        if self.high is not None:
            out["le" if self.closed in ("both", "right") else "lt"] = self.high
        return out


@dataclass(frozen=True)
class Choices:
    """A value from a fixed set (strings, numbers or booleans)."""

    values: tuple

    def __init__(self, *values: Any):
        object.__setattr__(self, "values", tuple(values))


@dataclass(frozen=True)
class Length:
    """How many items a list parameter takes; ``None`` leaves a side open."""

    low: int | None = None
    high: int | None = None


class Registry(Generic[T]):
    """Name → class (or function). ``kind`` names the part in messages ("featurizer", "model")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, entry: T | None = None, *, name: str | None = None) -> Any:
        """Decorator: ``@REG.register`` (name from ``entry.name``) or ``@REG.register(name="x")``."""

        def add(obj: T) -> T:
            key = name or getattr(obj, "name", None)
            if not isinstance(key, str) or not key:
                raise ValueError(f"a registered {self.kind} needs a name")
            if key in self._entries and self._entries[key] is not obj:
                raise ValueError(f"{self.kind} name {key!r} registered twice")
            self._entries[key] = obj
            return obj

        return add(entry) if entry is not None else add

    def get(self, key: Any, where: str | None = None) -> T:
        """The entry named ``key``; an unknown name is one UserError listing the known ones."""
        if not isinstance(key, str) or key not in self._entries:
            prefix = f"{where}: " if where else ""
            raise UserError(f"{prefix}unknown {self.kind} {key!r} (known: {', '.join(self.names())})")
        return self._entries[key]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self):
        return sorted(self._entries.items())

    def values(self):
        return [self._entries[k] for k in self.names()]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __getitem__(self, key: str) -> T:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"
