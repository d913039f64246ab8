"""Instance segmentation masks: how imaging people score them, and the classical pipeline.

A mask is an integer label image (H, W): 0 is background, 1..n are objects (cells), each label one
object, so touching cells stay distinct. Scores follow StarDist's ``matching`` and Cellpose's
``average_precision``, the definitions imaging papers report:

* pixel level — foreground IoU and Dice of the masks taken as foreground / background;
* object level — a predicted object matches a true one when their IoU is at least a threshold; pairs
  are chosen to maximize the summed IoU (Hungarian assignment, scipy) among pairs above it, one
  partner each. With ``tp`` matches, ``fp`` unmatched predictions and ``fn`` unmatched true objects:
  precision ``tp / (tp + fp)``, recall ``tp / (tp + fn)``, F1 ``2 tp / (2 tp + fp + fn)`` and
  average precision ``tp / (tp + fp + fn)`` (Cellpose's AP; StarDist calls it accuracy). Over many
  images the counts are summed before dividing (StarDist's ``by_image=False``), so an image with
  many cells weighs more than one with few.

The classical pipeline (:func:`watershed_instances`) is the baseline a CellProfiler user would run:
smooth, Otsu threshold, distance transform, one seed per local maximum, watershed — it splits
touching cells where their shapes pinch, and fails where blur merges them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from biodl.featurizers.images import check_mask, n_objects  # noqa: F401  (re-exported)

#: IoU thresholds of the object-level table (StarDist / Cellpose report 0.5 ... 0.9)
IOU_THRESHOLDS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)


def iou_matrix(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """float64 (n_true, n_pred) IoU of every true object with every predicted one. Labels are
    renumbered 1..n in sorted order first (gaps allowed in the input); row i is the i-th true label."""
    truth, pred = check_mask(truth, name="truth"), check_mask(pred, name="prediction")
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and prediction {pred.shape} differ in shape")
    t_labels, t = np.unique(truth, return_inverse=True)
    p_labels, p = np.unique(pred, return_inverse=True)
    # index 0 is background only where the image has background
    t_off, p_off = int(t_labels[0] != 0), int(p_labels[0] != 0)
    t, p = t.ravel() + t_off, p.ravel() + p_off
    n_t, n_p = len(t_labels) + t_off, len(p_labels) + p_off
    overlap = np.bincount(t * n_p + p, minlength=n_t * n_p).reshape(n_t, n_p)[1:, 1:].astype(np.float64)
    area_t = np.bincount(t, minlength=n_t)[1:].astype(np.float64)
    area_p = np.bincount(p, minlength=n_p)[1:].astype(np.float64)
    union = area_t[:, None] + area_p[None, :] - overlap
    return np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)


@dataclass(frozen=True)
class MatchCounts:
    """Matched (tp), unmatched predicted (fp) and unmatched true (fn) objects at one IoU threshold;
    ``iou_sum`` is the summed IoU of the matches (for StarDist's panoptic quality)."""

    tp: int
    fp: int
    fn: int
    iou_sum: float = 0.0

    def __add__(self, other: MatchCounts) -> MatchCounts:
        return MatchCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.iou_sum + other.iou_sum)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 1.0

    @property
    def average_precision(self) -> float:
        return self.tp / (self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 1.0

    def scores(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "average_precision": self.average_precision, "tp": self.tp, "fp": self.fp, "fn": self.fn}


def match(truth: np.ndarray, pred: np.ndarray, thresholds: Iterable[float] = IOU_THRESHOLDS,
          iou: np.ndarray | None = None) -> dict[float, MatchCounts]:
    """Object matches of one image at each IoU threshold (see the module docstring)."""
    from scipy.optimize import linear_sum_assignment

    iou = iou_matrix(truth, pred) if iou is None else iou
    n_t, n_p = iou.shape
    out = {}
    for thr in thresholds:
        if n_t == 0 or n_p == 0:
            out[float(thr)] = MatchCounts(0, n_p, n_t)
            continue
        # pairs under the threshold cannot match: they cost nothing, so the assignment maximizes
        # the summed IoU of the admissible pairs only
        admissible = iou >= thr
        rows, cols = linear_sum_assignment(np.where(admissible, iou, 0.0), maximize=True)
        hit = admissible[rows, cols]
        tp = int(hit.sum())
        out[float(thr)] = MatchCounts(tp, n_p - tp, n_t - tp, float(iou[rows[hit], cols[hit]].sum()))
    return out


def pixel_scores(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Foreground IoU and Dice of two masks (any nonzero label is foreground)."""
    t, p = check_mask(truth, name="truth") > 0, check_mask(pred, name="prediction") > 0
    if t.shape != p.shape:
        raise ValueError(f"truth {t.shape} and prediction {p.shape} differ in shape")
    inter, t_sum, p_sum = float((t & p).sum()), float(t.sum()), float(p.sum())
    union = t_sum + p_sum - inter
    return {"pixel_iou": inter / union if union else 1.0,
            "dice": 2 * inter / (t_sum + p_sum) if t_sum + p_sum else 1.0}


def segmentation_scores(truths: Sequence[np.ndarray], preds: Sequence[np.ndarray],
                        thresholds: Iterable[float] = IOU_THRESHOLDS) -> dict:
    """Scores of a set of images: object counts summed over images per threshold (then precision,
    recall, F1, AP), pixel IoU / Dice over all pixels, and count errors from the instances.

    Returns ``{"objects": {thr: {...}}, "pixel_iou", "dice", "count_mae", "count_bias",
    "n_images", "per_image": [...]}`` with per-image F1 at 0.5 and count error."""
    if len(truths) != len(preds):
        raise ValueError(f"{len(truths)} truth masks but {len(preds)} predictions")
    thresholds = tuple(float(t) for t in thresholds)
    totals = {thr: MatchCounts(0, 0, 0) for thr in thresholds}
    inter = t_sum = p_sum = 0.0
    per_image = []
    for truth, pred in zip(truths, preds):
        counts = match(truth, pred, thresholds)
        for thr in thresholds:
            totals[thr] = totals[thr] + counts[thr]
        t, p = np.asarray(truth) > 0, np.asarray(pred) > 0
        inter += float((t & p).sum())
        t_sum += float(t.sum())
        p_sum += float(p.sum())
        first = counts[thresholds[0]]
        per_image.append({"f1": first.f1, "n_true": first.tp + first.fn, "n_pred": first.tp + first.fp,
                          "count_error": (first.tp + first.fp) - (first.tp + first.fn)})
    errors = np.array([r["count_error"] for r in per_image], np.float64)
    union = t_sum + p_sum - inter
    return {
        "objects": {thr: totals[thr].scores() for thr in thresholds},
        "pixel_iou": inter / union if union else 1.0,
        "dice": 2 * inter / (t_sum + p_sum) if t_sum + p_sum else 1.0,
        "count_mae": float(np.abs(errors).mean()) if len(errors) else float("nan"),
        "count_bias": float(errors.mean()) if len(errors) else float("nan"),
        "n_images": len(per_image),
        "per_image": per_image,
    }


# -- per-image statistics: every score above is a ratio of sums over images --------------------
def _stat_columns(thresholds: Sequence[float]) -> tuple[str, ...]:
    cols = [f"{k}_{round(100 * t)}" for t in thresholds for k in ("tp", "fp", "fn")]
    return (*cols, "inter", "fg_true", "fg_pred", "n_true", "n_pred", "abs_count_error", "images")


#: columns of :func:`image_stats` at the default thresholds
STAT_COLUMNS: tuple[str, ...] = _stat_columns(IOU_THRESHOLDS)
#: the scalar scores of :func:`scores_from_sums`, each greater-is-better unless in LOWER_IS_BETTER
SCORE_NAMES: tuple[str, ...] = (
    "object_f1", "precision", "recall", *(f"ap_{round(100 * t)}" for t in IOU_THRESHOLDS), "mean_ap",
    "pixel_iou", "dice", "count_mae", "count_bias")
LOWER_IS_BETTER = frozenset({"count_mae"})


def image_stats(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """float64 (len(STAT_COLUMNS),) counts of one image: tp / fp / fn at each IoU threshold,
    foreground intersection and areas, true and predicted object numbers, |count error|, 1.

    Summing rows over any set of images (a bootstrap resample, say) and passing the sums to
    :func:`scores_from_sums` gives that set's scores exactly as :func:`segmentation_scores` does."""
    counts = match(truth, pred, IOU_THRESHOLDS)
    row = [v for t in IOU_THRESHOLDS for v in (counts[t].tp, counts[t].fp, counts[t].fn)]
    t, p = np.asarray(truth) > 0, np.asarray(pred) > 0
    first = counts[IOU_THRESHOLDS[0]]
    n_true, n_pred = first.tp + first.fn, first.tp + first.fp
    row += [(t & p).sum(), t.sum(), p.sum(), n_true, n_pred, abs(n_pred - n_true), 1]
    return np.asarray(row, np.float64)


def scores_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Scores of summed :func:`image_stats` rows, (len(STAT_COLUMNS),) or (B, len(STAT_COLUMNS)) →
    ``{name: float64 ()/(B,)}`` for SCORE_NAMES: object F1, precision, recall at IoU 0.5; AP at each
    threshold and their mean (Cellpose's AP averaged over 0.5–0.9); foreground IoU and Dice; count
    MAE and bias (predicted − true) per image. NaN where undefined (no images)."""
    sums = np.asarray(sums, np.float64)
    col = {name: sums[..., i] for i, name in enumerate(STAT_COLUMNS)}

    def ratio(a, b, empty=1.0):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(b > 0, a / np.where(b > 0, b, 1), empty)

    tp, fp, fn = col["tp_50"], col["fp_50"], col["fn_50"]
    out = {"object_f1": ratio(2 * tp, 2 * tp + fp + fn), "precision": ratio(tp, tp + fp, 0.0),
           "recall": ratio(tp, tp + fn, 0.0)}
    aps = [ratio(col[f"tp_{round(100 * t)}"],
                 col[f"tp_{round(100 * t)}"] + col[f"fp_{round(100 * t)}"] + col[f"fn_{round(100 * t)}"])
           for t in IOU_THRESHOLDS]
    out.update({f"ap_{round(100 * t)}": a for t, a in zip(IOU_THRESHOLDS, aps)})
    out["mean_ap"] = np.mean(aps, axis=0)
    union = col["fg_true"] + col["fg_pred"] - col["inter"]
    out["pixel_iou"] = ratio(col["inter"], union)
    out["dice"] = ratio(2 * col["inter"], col["fg_true"] + col["fg_pred"])
    images = col["images"]
    out["count_mae"] = ratio(col["abs_count_error"], images, np.nan)
    out["count_bias"] = ratio(col["n_pred"] - col["n_true"], images, np.nan)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


# -- masks in a table cell ------------------------------------------------------------------------
def encode_mask(mask: np.ndarray) -> bytes:
    """An instance mask as compact bytes (.npy, zlib): the prediction table stores masks this way,
    dtype and shape included; :func:`decode_mask` reverses it."""
    import io
    import zlib

    mask = check_mask(mask)
    dtype = np.uint16 if mask.max(initial=0) < 2 ** 16 else np.uint32
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(mask, dtype=dtype), allow_pickle=False)
    return zlib.compress(buffer.getvalue(), 6)


def decode_mask(data: bytes) -> np.ndarray:
    """The mask :func:`encode_mask` stored."""
    import io
    import zlib

    return np.load(io.BytesIO(zlib.decompress(data)), allow_pickle=False)


def watershed_instances(image: np.ndarray, *, smooth: float = 1.0, min_distance: int = 3,
                        min_size: int = 8, threshold: float | None = None) -> np.ndarray:
    """The classical pipeline: Gaussian smoothing (``smooth`` px), Otsu threshold (or a given
    ``threshold`` on the smoothed image), distance transform, one marker per local maximum at least
    ``min_distance`` px apart, watershed on the negated distance within the foreground; objects under
    ``min_size`` pixels are dropped. Returns int32 labels (H, W), 1..n."""
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.morphology import remove_small_objects
    from skimage.segmentation import watershed

    img = np.asarray(image, np.float64)
    if img.ndim == 3:  # channels first: their mean
        img = img.mean(axis=0)
    if smooth > 0:
        img = ndi.gaussian_filter(img, smooth)
    if img.max() <= img.min():
        return np.zeros(img.shape, np.int32)
    level = threshold_otsu(img) if threshold is None else threshold
    foreground = remove_small_objects(img > level, max_size=max(min_size - 1, 0))
    distance = ndi.distance_transform_edt(foreground)
    peaks = peak_local_max(distance, min_distance=max(1, min_distance), labels=ndi.label(foreground)[0],
                           exclude_border=False)
    markers = np.zeros(img.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return drop_small(watershed(-distance, markers, mask=foreground), min_size)


def drop_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """int32 labels renumbered 1..n after objects under ``min_size`` pixels (watershed slivers,
    too small to be a cell) are set to background."""
    from skimage.segmentation import relabel_sequential

    small = np.bincount(labels.ravel()) < min_size
    small[0] = False
    labels = np.where(small[labels], 0, labels)
    return relabel_sequential(labels)[0].astype(np.int32)
