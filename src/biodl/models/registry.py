"""Name → model class. Adding a model is one file with a class plus ``@register_model``."""

from __future__ import annotations

from biodl.registry import Registry

MODELS: Registry = Registry("model")
register_model = MODELS.register
