"""The report's figures: matplotlib (Agg) → PNG → ``data:`` URI, so a page needs no other file.

Each function takes plain arrays / frames and returns the data URI of one figure (str).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np

DEEP, BASE = "#1f5fa8", "#9a9a9a"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "figure.dpi": 100})
    return plt


def to_data_uri(fig) -> str:
    plt = _plt()
    buf = io.BytesIO()
    # no timestamp / software metadata: the same figure gives the same bytes
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def learning_curve(history, monitor: str, loss: str = "loss") -> str:
    """history: DataFrame with epoch, train_loss, valid_<monitor>; ``loss`` names the training loss."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    ax.plot(history["epoch"], history["train_loss"], color=BASE, label=f"training {loss}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"training {loss}")
    ax2 = ax.twinx()
    column = f"valid_{monitor}"
    ax2.plot(history["epoch"], history[column], color=DEEP, label=f"validation {monitor}")
    ax2.set_ylabel(f"validation {monitor}", color=DEEP)
    ax2.spines["top"].set_visible(False)
    from biodl.metrics import METRIC_DIRECTION

    greater = METRIC_DIRECTION.get(monitor, False)  # a monitored loss (segmentation's) is lower-is-better
    best = history[column].idxmax() if greater else history[column].idxmin()
    ax2.axvline(history.loc[best, "epoch"], color=DEEP, ls=":", lw=1)
    ax.set_title("learning curve (dotted: best epoch, weights restored)")
    return to_data_uri(fig)


def parity(y: np.ndarray, pred: np.ndarray, sigma: np.ndarray | None, base_y: np.ndarray | None,
           base_pred: np.ndarray | None, task: str, deep_label: str, base_label: str | None) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    if base_pred is not None:
        ax.scatter(base_y, base_pred, s=10, color=BASE, alpha=0.6, label=base_label)
    if sigma is not None:
        ax.errorbar(y, pred, yerr=sigma, fmt="o", ms=3, color=DEEP, ecolor=DEEP, elinewidth=0.6, alpha=0.75,
                    label=f"{deep_label} ± σ")
    else:
        ax.scatter(y, pred, s=10, color=DEEP, label=deep_label)
    lo = float(np.nanmin([np.nanmin(y), np.nanmin(pred)]))
    hi = float(np.nanmax([np.nanmax(y), np.nanmax(pred)]))
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
    ax.set_xlabel(f"measured {task}")
    ax.set_ylabel(f"predicted {task}")
    ax.set_title("test: parity")
    ax.legend(frameon=False, fontsize=8)
    return to_data_uri(fig)


def regression_calibration(y: np.ndarray, pred: np.ndarray, sigma: np.ndarray) -> str:
    """Observed vs expected fraction inside central Gaussian intervals (the miscalibration-area curve)."""
    from scipy.stats import norm

    plt = _plt()
    expected = np.linspace(0.01, 0.99, 99)
    z = np.abs(y - pred) / np.maximum(sigma, 1e-12)
    observed = np.array([(z <= norm.ppf(0.5 + p / 2)).mean() for p in expected])
    fig, ax = plt.subplots(figsize=(4.0, 3.8))
    ax.plot([0, 1], [0, 1], color="black", lw=0.8)
    ax.plot(expected, observed, color=DEEP)
    ax.fill_between(expected, expected, observed, color=DEEP, alpha=0.15)
    ax.set_xlabel("expected fraction inside interval")
    ax.set_ylabel("observed fraction (test)")
    ax.set_title("calibration curve (shaded: miscalibration area)")
    return to_data_uri(fig)


def error_vs_sigma(y: np.ndarray, pred: np.ndarray, sigma: np.ndarray) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    ax.scatter(sigma, np.abs(y - pred), s=10, color=DEEP, alpha=0.7)
    top = float(np.nanmax(sigma)) if len(sigma) else 1.0
    grid = np.linspace(0, top, 50)
    ax.plot(grid, grid, color="black", lw=0.8, label="|error| = σ")
    ax.plot(grid, 1.645 * grid, color="black", lw=0.8, ls="--", label="|error| = 1.645 σ (90 %)")
    ax.set_xlabel("predicted σ")
    ax.set_ylabel("|error| (test)")
    ax.set_title("error vs stated uncertainty")
    ax.legend(frameon=False, fontsize=8)
    return to_data_uri(fig)


def error_vs_similarity(similarity: np.ndarray, error: np.ndarray) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    ax.scatter(similarity, error, s=10, color=DEEP, alpha=0.7)
    ax.set_xlabel("max Tanimoto similarity to training set")
    ax.set_ylabel("|error| (test)")
    ax.set_title("applicability domain")
    return to_data_uri(fig)


def roc_pr(curves: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> str:
    """curves: (label, y 0/1, score) per model → ROC and precision-recall side by side."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.4, 3.8))
    for i, (label, y, score) in enumerate(curves):
        color = DEEP if i == 0 else BASE
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, score)
        a.plot(fpr, tpr, color=color, label=f"{label} (AUC {auc(fpr, tpr):.3f})")
        precision, recall, _ = precision_recall_curve(y, score)
        b.plot(recall, precision, color=color, label=label)
    a.plot([0, 1], [0, 1], color="black", lw=0.6, ls=":")
    a.set_xlabel("false positive rate")
    a.set_ylabel("true positive rate")
    a.set_title("test: ROC")
    a.legend(frameon=False, fontsize=8, loc="lower right")
    b.set_xlabel("recall")
    b.set_ylabel("precision")
    b.set_title("test: precision-recall")
    return to_data_uri(fig)


def confusion(matrix: list[list[int]], labels: Sequence[str]) -> str:
    plt = _plt()
    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > m.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("test: confusion matrix")
    return to_data_uri(fig)


def reliability(bins_by_label: Sequence[tuple[str, list[dict]]]) -> str:
    """Reliability diagram from :func:`biodl.uncertainty.reliability_bins` (one line per variant)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.0, 3.8))
    ax.plot([0, 1], [0, 1], color="black", lw=0.8)
    for i, (label, bins) in enumerate(bins_by_label):
        if bins:
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", ms=3,
                    color=[DEEP, BASE, "#c8741c"][i % 3], label=label)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy (test)")
    ax.set_title("reliability diagram")
    ax.legend(frameon=False, fontsize=8)
    return to_data_uri(fig)


def image_thumbnail(image: np.ndarray) -> str:
    """(C, H, W) float image → small grey PNG."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.1, 1.1))
    ax.imshow(np.asarray(image)[0], cmap="gray")
    ax.axis("off")
    return to_data_uri(fig)


def _outline(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """bool (H, W): pixels of an instance mask that border another label (background included),
    ``width`` px thick."""
    from scipy.ndimage import binary_dilation
    from skimage.segmentation import find_boundaries

    edge = find_boundaries(np.asarray(mask), mode="inner")
    return binary_dilation(edge, iterations=width - 1) & (np.asarray(mask) > 0) if width > 1 else edge


def segmentation_overlays(rows: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> str:
    """One row per case: (title, image (H, W) or (1, H, W), truth mask, predicted mask) → image,
    truth outlines and predicted outlines side by side (green = truth, magenta = prediction)."""
    plt = _plt()
    fig, axes = plt.subplots(len(rows), 3, figsize=(7.2, 2.45 * len(rows)), squeeze=False)
    for ax_row, (title, image, truth, pred) in zip(axes, rows):
        img = np.asarray(image, np.float64).reshape(np.asarray(truth).shape)
        lo, hi = np.percentile(img, [1, 99.8])
        gray = np.clip((img - lo) / (hi - lo + 1e-12), 0, 1)
        panels = [gray, np.dstack([gray] * 3), np.dstack([gray] * 3)]
        # a 1-px outline vanishes when a full field of view is drawn 2 inches wide: thicken with size
        width = max(1, round(max(img.shape) / 256))
        panels[1][_outline(truth, width)] = (0.1, 0.9, 0.2)
        panels[2][_outline(pred, width)] = (0.95, 0.2, 0.9)
        for ax, panel, label in zip(ax_row, panels, ("image", "truth", "prediction")):
            ax.imshow(panel, cmap="gray" if panel.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{title}: {label}" if label == "image" else label, fontsize=8)
    fig.tight_layout()
    return to_data_uri(fig)


def count_parity(true_counts: np.ndarray, predicted: Sequence[tuple[str, np.ndarray]]) -> str:
    """Predicted vs true cell count per image for several methods, with the identity line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    true_counts = np.asarray(true_counts, np.float64)
    colors = (DEEP, "#d9822b", BASE, "#2a9d5c")
    for (name, pred), color in zip(predicted, colors):
        pred = np.asarray(pred, np.float64)
        mae = np.abs(pred - true_counts).mean()
        ax.scatter(true_counts, pred, s=10, alpha=0.6, color=color, label=f"{name} (MAE {mae:.2f})")
    top = max(true_counts.max(), *(np.max(p) for _, p in predicted)) * 1.05
    ax.plot([0, top], [0, top], color="black", lw=0.8)
    ax.set_xlabel("true count")
    ax.set_ylabel("predicted count")
    ax.legend(fontsize=7, frameon=False)
    return to_data_uri(fig)


def screen_distributions(edges: np.ndarray, counts: Sequence[tuple[str, np.ndarray]], hits: np.ndarray,
                         xlabel: str) -> str:
    """Histograms over the same ``edges`` (bins + 1,) as step lines (``counts``: (label, (bins,))),
    log-scaled counts, the picks' values as ticks under the axis."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    colors = [BASE, DEEP, "#b45f06"]
    for (label, values), color in zip(counts, colors):
        ax.stairs(values, edges, color=color, label=f"{label} ({int(values.sum()):,})")
    if len(hits):
        ax.plot(hits, np.zeros_like(hits), "|", color="#b42318", ms=12, mew=1.2, label=f"picks ({len(hits)})",
                transform=ax.get_xaxis_transform())
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("molecules")
    ax.legend(frameon=False, fontsize=8)
    return to_data_uri(fig)


def molecule_grid(smiles: Sequence[str], legends: Sequence[str], per_row: int = 6) -> str:
    """RDKit's grid drawing of ``smiles`` with a caption each, as a PNG data URI."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    image = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(190, 170), legends=list(legends),
                                 returnPNG=True)
    data = image if isinstance(image, bytes) else image.data
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
