"""Each model's parameters as the config sees them, declared without importing torch.

``biodl.spec`` checks every experiment's ``model:`` block against these before any job runs —
at Snakemake parse time and in every CLI command. Importing torch for that would add about 2 s to
each ``snakemake -n`` and each job (measured on this project's 2-core machine), so the
parameter names, types, defaults and ranges of a model live here, in a plain class per model, and
tests/test_spec.py asserts they equal the torch class's constructor signature.

``accepts`` names the feature layouts the model reads (a featurizer's ``layout``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from biodl.registry import Choices, Interval, Registry

MODEL_PARAMS: Registry = Registry("model")

ACTIVATION_NAMES = ("relu", "leaky_relu", "elu", "gelu", "mish", "tanh", "sigmoid")
POOL_NAMES = ("max", "avg")
PROBABILITY = Interval(0, 1, closed="left")  # dropout 1.0 would zero every activation
POSITIVE_INT = Interval(1, None)


class ModelParams:
    name: ClassVar[str]
    accepts: ClassVar[tuple[str, ...]]
    param_constraints: ClassVar[dict] = {}
    #: outputs per pixel: trained for a pixel-wise task (segmentation) only, and those train it alone
    pixelwise: ClassVar[bool] = False


@MODEL_PARAMS.register
class MLPParams(ModelParams):
    name = "mlp"
    accepts = ("vector",)
    param_constraints = {"hidden": POSITIVE_INT, "activation": Choices(*ACTIVATION_NAMES), "dropout": PROBABILITY,
                         "input_dropout": PROBABILITY, "sparse_input": Choices("auto", "true", "false", True, False)}

    def __init__(self, hidden: Sequence[int] = (512, 128), activation: str = "relu", dropout: float = 0.2,
                 batch_norm: bool = False, input_dropout: float = 0.0, sparse_input: str | bool = "auto"):
        pass


@MODEL_PARAMS.register
class CNN1DParams(ModelParams):
    name = "cnn1d"
    accepts = ("sequence",)
    param_constraints = {"channels": POSITIVE_INT, "kernel_sizes": POSITIVE_INT, "pool": POSITIVE_INT,
                         "dropout": PROBABILITY, "global_pool": Choices(*POOL_NAMES, "flatten"),
                         "activation": Choices(*ACTIVATION_NAMES), "output": Choices("linear", "sigmoid")}

    def __init__(self, channels: Sequence[int] = (64, 64), kernel_sizes: Sequence[int] = (21, 11), pool: int = 2,
                 dropout: float = 0.2, rc: bool = True, global_pool: str = "max", n_value: float = 0.0,
                 activation: str = "relu", output: str = "linear"):
        pass


@MODEL_PARAMS.register
class CNN2DParams(ModelParams):
    name = "cnn2d"
    accepts = ("image",)
    param_constraints = {"channels": POSITIVE_INT, "kernel_size": POSITIVE_INT, "stride": POSITIVE_INT,
                         "pool": POSITIVE_INT, "dropout": PROBABILITY, "global_pool": Choices(*POOL_NAMES),
                         "activation": Choices(*ACTIVATION_NAMES)}

    def __init__(self, channels: Sequence[int] = (16, 32, 64, 128), kernel_size: int = 3, stride: int = 2,
                 pool: int = 1, batch_norm: bool = True, dropout: float = 0.2, global_pool: str = "avg",
                 activation: str = "relu"):
        pass


@MODEL_PARAMS.register
class RNNParams(ModelParams):
    name = "rnn"
    accepts = ("tokens", "sequence")
    param_constraints = {"cell": Choices("gru", "lstm"), "hidden": POSITIVE_INT, "layers": Interval(1, 16),
                         "dropout": PROBABILITY, "embedding": POSITIVE_INT, "input": Choices("tokens", "dna"),
                         "vocab_size": POSITIVE_INT}

    def __init__(self, cell: str = "gru", hidden: int = 128, layers: int = 1, bidirectional: bool = True,
                 dropout: float = 0.1, embedding: int = 32, input: str = "tokens",
                 vocab_size: int = 256, n_value: float = 0.0):
        pass


@MODEL_PARAMS.register
class MPNNParams(ModelParams):
    name = "mpnn"
    accepts = ("graph",)
    param_constraints = {"hidden": POSITIVE_INT, "depth": Interval(1, 20), "dropout": PROBABILITY,
                         "aggregation": Choices("mean", "sum", "norm"), "ffn_hidden": POSITIVE_INT,
                         "activation": Choices(*ACTIVATION_NAMES)}

    def __init__(self, hidden: int = 300, depth: int = 3, dropout: float = 0.0, aggregation: str = "mean",
                 ffn_hidden: Sequence[int] = (300,), activation: str = "relu", batch_norm: bool = False):
        pass


@MODEL_PARAMS.register
class UNetParams(ModelParams):
    name = "unet"
    accepts = ("image",)
    pixelwise = True
    param_constraints = {"depth": Interval(1, 6), "width": POSITIVE_INT, "dropout": PROBABILITY,
                         "scale": Interval(0.05, 4)}

    def __init__(self, depth: int = 3, width: int = 16, dropout: float = 0.1, scale: float = 1.0):
        pass
