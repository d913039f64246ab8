"""Featurizers by modality, found by name in a registry.

>>> from biodl.featurizers import ECFP, make_featurizer
>>> make_featurizer({"type": "ecfp", "radius": 2, "n_bits": 1024})
ECFP(radius=2, n_bits=1024, counts=False, chirality=False)

Modules here import only numpy at import time; RDKit, tifffile and torch are imported when a
featurizer first does work.
"""

from __future__ import annotations

from typing import Any, Mapping

from biodl.errors import UserError
from biodl.featurizers.base import FeaturizeResult, Featurizer, Reject
from biodl.featurizers.registry import FEATURIZERS, register

# importing the modules fills the registry
from biodl.featurizers.molecules import ECFP, RDKitDescriptors, SmilesTokens  # noqa: E402
from biodl.featurizers.dna import KmerCounts, OneHot, codes_to_onehot, reverse_complement_codes  # noqa: E402
from biodl.featurizers.images import ImageFeaturizer  # noqa: E402
from biodl.featurizers.graphs import MolGraph  # noqa: E402


def make_featurizer(spec: Mapping[str, Any] | str, **overrides: Any) -> Featurizer:
    """Build a featurizer from ``{"type": name, **params}`` (or a bare name)."""
    spec = {"type": spec} if isinstance(spec, str) else dict(spec)
    spec.update(overrides)
    kind = spec.pop("type", None)
    if kind not in FEATURIZERS:
        raise UserError(f"unknown featurizer type {kind!r} (known: {', '.join(sorted(FEATURIZERS))})")
    cls = FEATURIZERS[kind]
    try:
        return cls(**spec)
    except TypeError as exc:  # an unknown or missing parameter name
        raise UserError(f"featurizer {kind!r}: {exc}") from None


__all__ = [
    "ECFP",
    "FEATURIZERS",
    "FeaturizeResult",
    "Featurizer",
    "ImageFeaturizer",
    "KmerCounts",
    "MolGraph",
    "OneHot",
    "RDKitDescriptors",
    "Reject",
    "SmilesTokens",
    "codes_to_onehot",
    "make_featurizer",
    "register",
    "reverse_complement_codes",
]
