"""Models by architecture, built by name from a spec.

>>> from biodl.models import build_model, count_parameters
>>> model = build_model({"type": "mlp", "hidden": [256]}, input_shape=(2048,), n_outputs=12)
>>> count_parameters(model)
527628
>>> rebuilt = build_model(model.spec, input_shape=model.input_shape, n_outputs=model.n_outputs)

``model.spec`` is ``{"type": name, **model.config}``. Importing this package imports torch; only
training / prediction code imports it, never ``biodl/__init__``.

Adding a model is one module with a :class:`~biodl.models.base.Model` subclass decorated with
:func:`register_model`, plus one import line below.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Mapping, Sequence

from biodl.errors import UserError
from biodl.models.base import ACTIVATIONS, GLOBAL_POOLS, Model
from biodl.models.registry import MODELS, register_model

# importing the modules fills the registry
from biodl.models.mlp import MLP  # noqa: E402
from biodl.models.cnn1d import CNN1D  # noqa: E402
from biodl.models.cnn2d import CNN2D  # noqa: E402
from biodl.models.rnn import RNN  # noqa: E402
from biodl.models.mpnn import MPNN  # noqa: E402
from biodl.models.unet import UNet  # noqa: E402

#: constructor arguments that come from the data, not from the spec
_DATA_ARGS = ("input_shape", "n_outputs")


def model_params(kind: str) -> dict[str, Any]:
    """The spec parameters of model ``kind`` and their defaults."""
    signature = inspect.signature(MODELS[kind])
    return {name: p.default for name, p in signature.parameters.items() if name not in _DATA_ARGS}


def build_model(spec: Mapping[str, Any] | str, *, input_shape: Sequence[int], n_outputs: int) -> Model:
    """Build an (untrained) model from ``{"type": name, **params}`` (or a bare name).

    ``input_shape`` is the per-sample shape of ``X`` as stored on disk, e.g. ``(2048,)`` for ECFP,
    ``(200,)`` for DNA codes, ``(46,)`` for SMILES tokens, ``(1, 128, 128)`` for images;
    ``n_outputs`` is the number of tasks (or of classes, for multiclass). Weights are initialised
    from torch's global generator: call ``torch.manual_seed`` first for a reproducible model.

    An unknown type, unknown parameter or invalid value raises :class:`~biodl.errors.UserError`
    with one line naming it.
    """
    spec = {"type": spec} if isinstance(spec, str) else dict(spec)
    kind = spec.pop("type", None)
    if not isinstance(kind, str) or kind not in MODELS:
        raise UserError(f"unknown model type {kind!r} (known: {', '.join(sorted(MODELS))})")
    known = model_params(kind)
    for name in spec:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UserError(f"model {kind!r}: unknown parameter {name!r} ({hint}known: {', '.join(known)})")
    try:
        return MODELS[kind](tuple(input_shape), n_outputs, **spec)
    except ValueError as exc:  # the constructors' checks of values and of input_shape
        raise UserError(f"model {kind!r}: {exc}") from None


def count_parameters(model, trainable_only: bool = True) -> int:
    """Number of (trainable, by default) scalar parameters of a torch module."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = [
    "ACTIVATIONS",
    "CNN1D",
    "CNN2D",
    "GLOBAL_POOLS",
    "MLP",
    "MODELS",
    "MPNN",
    "Model",
    "RNN",
    "UNet",
    "build_model",
    "count_parameters",
    "model_params",
    "register_model",
]
