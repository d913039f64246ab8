"""What every model shares: the :class:`Model` base class, the activation registry and checks.

The model contract (see DESIGN.md, "Model"):

* built by :func:`biodl.models.build_model` from ``{"type": name, **params}`` plus the per-sample
  ``input_shape`` of ``X`` as stored on disk and ``n_outputs`` (tasks, or classes for multiclass);
* ``forward(x)`` takes the batch exactly as stored (uint8 codes / tokens, float features or
  images) and returns float32 logits / values of shape ``(B, n_outputs)``; losses, sigmoid /
  softmax and target scaling are the training code's business;
* ``model.config`` holds the constructor parameters (JSON-able), so
  ``build_model(model.spec, input_shape=model.input_shape, n_outputs=model.n_outputs)`` rebuilds
  an identical architecture for ``load_state_dict``;
* the only randomness in ``forward`` is plain :class:`torch.nn.Dropout` modules (so MC dropout can
  switch exactly those to train mode at inference); on CPU, a fixed ``torch.manual_seed`` gives
  bit-identical initial weights and outputs.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterable, Sequence

import torch
from torch import nn

#: activation name → module class; a config names one with ``activation: <name>``
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "mish": nn.Mish,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (fresh, because a module should have one parent)."""
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]()


def check_choice(param: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError naming the param."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{param} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def check_int(param: str, value: Any, minimum: int = 1) -> int:
    """An int ≥ ``minimum`` (bools are refused: ``hidden: true`` is a typo, not 1)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{param} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_int_list(param: str, value: Any, minimum: int = 1) -> list[int]:
    """A list of ints ≥ ``minimum``; a single int means a list of one (``hidden: 256``)."""
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"{param} must be a list of integers; got {value!r}")
    return [check_int(f"{param}[{i}]", v, minimum) for i, v in enumerate(items)]


def check_probability(param: str, value: Any) -> float:
    """A dropout rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{param} must be a number in [0, 1); got {value!r}")
    return float(value)


def check_bool(param: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{param} must be true or false; got {value!r}")
    return value


def check_number(param: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{param} must be a number; got {value!r}")
    return float(value)


def dna_onehot(x: torch.Tensor, n_value: float) -> torch.Tensor:
    """DNA batch → float32 one-hot ``(B, 4, L)`` on ``x``'s device.

    ``x`` is either codes ``(B, L)`` (uint8 / int, A C G T N = 0..4, as stored by the ``onehot``
    featurizer) or an already expanded float one-hot ``(B, 4, L)``; the latter lets attribution
    methods (saliency, integrated gradients) take gradients with respect to the one-hot input.
    """
    from biodl.encodings import codes_to_onehot

    if x.dim() == 3 and x.is_floating_point():
        return x.float()
    if x.dim() != 2:
        raise ValueError(f"expected DNA codes (B, L) or one-hot (B, 4, L); got shape {tuple(x.shape)}")
    return codes_to_onehot(x, n_value)


def _jsonable(value: Any) -> Any:
    """Tuples → lists so that ``config`` round-trips through JSON / YAML unchanged."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Model(nn.Module):
    """Base class of every biodl model.

    Subclasses set ``name`` (the registry key), take ``input_shape`` and ``n_outputs`` first and
    every hyper-parameter as a keyword with a default, validate them (raising ValueError, which
    :func:`build_model` turns into a one-line :class:`~biodl.errors.UserError`) and pass them to
    ``super().__init__`` so that they land in ``config``.
    """

    name: ClassVar[str]
    #: smallest size of an input dimension (the graph model's molecule features may be absent: 0)
    min_input_dim: ClassVar[int] = 1
    #: outputs already in target units (a sigmoid for targets in (0, 1)): targets are not standardized
    bounded_output: bool = False

    def __init__(self, input_shape: Sequence[int], n_outputs: int, **config: Any):
        super().__init__()
        self.input_shape: tuple[int, ...] = tuple(check_int("input_shape", int(d), self.min_input_dim)
                                                  for d in input_shape)
        self.n_outputs: int = check_int("n_outputs", n_outputs)
        self.config: dict[str, Any] = {k: _jsonable(v) for k, v in config.items()}

    @property
    def spec(self) -> dict[str, Any]:
        """``{"type": name, **config}``: what a saved model stores to be rebuilt."""
        return {"type": self.name, **self.config}

    def _check_input_rank(self, rank: int, what: str) -> None:
        if len(self.input_shape) != rank:
            raise ValueError(f"needs input_shape {what}; got {self.input_shape}")


#: global pooling over every axis after the channel axis: ``(B, C, ...)`` → ``(B, C)``
GLOBAL_POOLS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "max": lambda h: h.flatten(2).amax(-1),
    "avg": lambda h: h.flatten(2).mean(-1),
}
