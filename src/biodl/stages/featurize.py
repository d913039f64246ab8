"""Stage 1, featurize: raw inputs → a featurized dataset directory.

The work lives in :mod:`biodl.dataset` (streaming, rejects, the manifest); this module is the
stage's name in the package, so every stage is found under :mod:`biodl.stages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def featurize(source: Mapping[str, Any], spec: Mapping[str, Any] | str, out: str | Path, *, n_jobs: int = 1,
              name: str | None = None):
    """Featurize the records of ``source`` with the featurizer ``spec`` into ``out``; returns the dataset."""
    from biodl.dataset import featurize_source

    return featurize_source(source, spec, out, n_jobs=n_jobs, name=name)
