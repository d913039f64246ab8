"""Training losses, by name: ``train.loss`` in a config picks one of :data:`LOSSES`.

Each loss is the mean over labelled entries of a batch: NaN targets (missing labels in multitask
data) are masked out, so a task without a label in a row contributes nothing to that row's
gradient. Which losses a task type accepts, and its default, are the task class's business
(:mod:`biodl.tasks`); a loss only knows the layout of the network outputs it reads.
"""

from __future__ import annotations

from typing import ClassVar

from biodl.registry import Registry

LOSSES: Registry = Registry("loss")


class Loss:
    """``loss(out, y)``: network outputs (B, n_outputs) and float targets (B, T) → a scalar tensor."""

    name: ClassVar[str]
    #: network outputs per target column: 2 for a mean and a log-variance
    outputs_per_task: ClassVar[int] = 1
    #: the outputs carry a per-item variance (a heteroscedastic head)
    heteroscedastic: ClassVar[bool] = False

    def __call__(self, out, y):
        raise NotImplementedError

    @staticmethod
    def masked_mean(per, y):
        """Mean of ``per`` (B, T) over the entries where ``y`` is labelled."""
        import torch

        mask = ~torch.isnan(y)
        return (per * mask).sum() / mask.sum().clamp(min=1)

    @staticmethod
    def filled(y):
        """``y`` with NaN → 0, so elementwise losses stay finite where the mask drops them."""
        import torch

        return torch.where(~torch.isnan(y), y, torch.zeros_like(y))


@LOSSES.register
class MSE(Loss):
    name = "mse"

    def __call__(self, out, y):
        return self.masked_mean((out - self.filled(y)) ** 2, y)


@LOSSES.register
class GaussianNLL(Loss):
    """Negative log-likelihood of N(mean, exp(log_var)): outputs are T means, then T log-variances
    (clamped to ±10, where exp would otherwise overflow float32 early in training)."""

    name = "gaussian_nll"
    outputs_per_task = 2
    heteroscedastic = True

    def __call__(self, out, y):
        import torch

        t = y.shape[1]
        mean, log_var = out[:, :t], out[:, t:].clamp(-10, 10)
        per = 0.5 * (log_var + (self.filled(y) - mean) ** 2 * torch.exp(-log_var))
        return self.masked_mean(per, y)


@LOSSES.register
class BCE(Loss):
    """Binary cross-entropy on logits, one column per task.

    pos_weight: optional float tensor (T,), the weight of a positive label per task (``None``: 1).
    ``train.class_weight: balanced`` sets it to negatives / positives of the training rows, so both
    classes weigh the same in total (DeepChem's balancing weights; PyTorch's ``pos_weight``).
    """

    name = "bce"

    def __init__(self, pos_weight=None):
        self.pos_weight = pos_weight

    def __call__(self, out, y):
        import torch.nn.functional as F

        per = F.binary_cross_entropy_with_logits(out, self.filled(y), reduction="none",
                                                 pos_weight=self.pos_weight)
        return self.masked_mean(per, y)


@LOSSES.register
class CrossEntropy(Loss):
    """Softmax cross-entropy: outputs are C class logits, the target is the class index in column 0."""

    name = "ce"

    def __call__(self, out, y):
        import torch.nn.functional as F

        return F.cross_entropy(out, y.view(-1).long())


@LOSSES.register
class CrossEntropyDice(Loss):
    """Pixel-wise loss of the segmentation task: class-weighted softmax cross-entropy plus
    1 − soft Dice of the foreground (interior + boundary) and of the interior, averaged.

    ``out`` logits (B, 3, H, W) over background / interior / boundary; ``y`` int64 classes (B, H, W).
    Cross-entropy alone is dominated by background pixels; the Dice terms score each cell pixel
    against the cells' total area, so thin boundaries between touching cells still pull.
    ``class_weight``: optional float tensor (3,) for the cross-entropy (``None``: equal).
    """

    name = "ce_dice"

    def __init__(self, class_weight=None):
        self.class_weight = class_weight

    def __call__(self, out, y):
        import torch
        import torch.nn.functional as F

        ce = F.cross_entropy(out, y, weight=self.class_weight)
        probs = torch.softmax(out, 1)
        dice = []
        # class 0 background, 1 interior, 2 boundary (biodl.segmentation)
        for p, t in ((probs[:, 1] + probs[:, 2], y != 0), (probs[:, 1], y == 1)):
            t = t.float()
            dice.append(1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1))
        return ce + sum(dice) / len(dice)


def masked_loss(name: str, out, y):
    """The loss named ``name`` on one batch (a convenience for scripts and tests)."""
    return LOSSES.get(name)()(out, y)
