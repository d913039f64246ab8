"""Name → featurizer class. Adding a featurizer is one class plus ``@register``."""

from __future__ import annotations

from biodl.registry import Registry

FEATURIZERS: Registry = Registry("featurizer")
register = FEATURIZERS.register
