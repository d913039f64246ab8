"""Name → model class. Adding a model is one file with a class plus ``@register_model``."""

from __future__ import annotations

MODELS: dict[str, type] = {}


def register_model(cls: type) -> type:
    """Class decorator: make ``cls`` available to configs as ``{"type": cls.name, ...}``."""
    if cls.name in MODELS and MODELS[cls.name] is not cls:
        raise ValueError(f"model name {cls.name!r} registered twice")
    MODELS[cls.name] = cls
    return cls
