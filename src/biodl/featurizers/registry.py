"""Name → featurizer class. Adding a featurizer is one class plus ``@register``."""

from __future__ import annotations

FEATURIZERS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make ``cls`` available to configs under ``cls.name``."""
    if cls.name in FEATURIZERS and FEATURIZERS[cls.name] is not cls:
        raise ValueError(f"featurizer name {cls.name!r} registered twice")
    FEATURIZERS[cls.name] = cls
    return cls
