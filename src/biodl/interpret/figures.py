"""Figures of attributions as PNG bytes: sequence logos (logomaker), motif logos beside their JASPAR
match, evolution trajectories, image maps over the image (matplotlib). Molecule maps are RDKit's
(:func:`biodl.interpret.molecules.draw_atom_map`)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

LETTERS = list("ACGT")


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def _logo(ax, matrix: np.ndarray, *, first: int = 0) -> None:
    import logomaker
    import pandas as pd

    frame = pd.DataFrame(np.asarray(matrix, np.float64), columns=LETTERS, index=np.arange(first, first + len(matrix)))
    logomaker.Logo(frame, ax=ax, color_scheme="classic", flip_below=False)
    ax.axhline(0, color="0.6", lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def attribution_logos(rows: Sequence[tuple[str, np.ndarray, int]], *, ylabel: str = "attribution") -> bytes:
    """One logo per row — (title, letter heights (w, 4): the attribution of the base present, 0 for
    the others, first position) — stacked."""
    fig, axes = _figure(len(rows), 1, figsize=(10, 1.6 * len(rows) + 0.3), squeeze=False)
    for ax, (title, matrix, first) in zip(axes[:, 0], rows):
        _logo(ax, matrix, first=first)
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_ylabel(ylabel, fontsize=8)
    axes[-1, 0].set_xlabel("position in the sequence")
    fig.tight_layout()
    return _png(fig)


def information_matrix(pwm: np.ndarray) -> np.ndarray:
    """Letter heights (w, 4) of a probability matrix in bits: p × information of the column."""
    p = np.clip(np.asarray(pwm, np.float64), 1e-9, 1)
    bits = 2 + (p * np.log2(p)).sum(axis=1, keepdims=True)
    return p * bits


def motif_logos(rows: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """Probability matrices (w, 4) as information logos, one per row: (title, matrix)."""
    width = max(len(m) for _, m in rows)
    fig, axes = _figure(len(rows), 1, figsize=(max(3.0, 0.32 * width + 1), 1.5 * len(rows) + 0.3), squeeze=False)
    for ax, (title, matrix) in zip(axes[:, 0], rows):
        _logo(ax, information_matrix(matrix))
        ax.set_ylim(0, 2)
        ax.set_xlim(-0.6, width - 0.4)
        ax.set_ylabel("bits", fontsize=8)
        ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    return _png(fig)


def trajectory(scores: np.ndarray, *, ylabel: str) -> bytes:
    """Output after each greedy step, one thin line per sequence and their mean."""
    scores = np.asarray(scores, np.float64)
    fig, ax = _figure(figsize=(5, 3.2))
    steps = np.arange(scores.shape[1])
    for line in scores:
        ax.plot(steps, line, color="0.75", lw=0.7)
    ax.plot(steps, scores.mean(axis=0), color="C0", lw=2, label=f"mean of {len(scores)}")
    ax.set_xlabel("substitutions")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    return _png(fig)


def image_maps(rows: Sequence[tuple[str, np.ndarray, np.ndarray]], *, label: str, signed: bool) -> bytes:
    """Per row (title, image (H, W), map (H, W)): the image, then the map over it (diverging colours
    when ``signed``: blue lowers the output, red raises it)."""
    fig, axes = _figure(len(rows), 2, figsize=(6.4, 3.1 * len(rows)), squeeze=False)
    for (ax_image, ax_map), (title, image, amap) in zip(axes, rows):
        ax_image.imshow(image, cmap="gray")
        ax_image.set_title(title, fontsize=8)
        ax_map.imshow(image, cmap="gray")
        limit = float(np.abs(amap).max()) or 1.0
        shown = ax_map.imshow(amap, cmap="RdBu_r" if signed else "inferno", alpha=0.6,
                              vmin=-limit if signed else 0.0, vmax=limit)
        fig.colorbar(shown, ax=ax_map, fraction=0.046, pad=0.03).set_label(label, fontsize=7)
        for ax in (ax_image, ax_map):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return _png(fig)
