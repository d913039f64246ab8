"""Cell images → normalized float32 tensors ``(N, C, H, W)`` for a 2-D CNN.

>>> from biodl.featurizers import ImageFeaturizer
>>> f = ImageFeaturizer(size=(128, 128), mode="resize", channels=1)   # doctest: +SKIP
>>> res = f.featurize(["a.tif", "b.png"])                             # doctest: +SKIP
>>> res.X.shape, res.X.dtype                                          # doctest: +SKIP
((2, 1, 128, 128), dtype('float32'))

Inputs are file paths. TIFF files are read with tifffile (Pillow as a fallback, e.g. for LZW
compression without imagecodecs), PNG and JPEG with Pillow; 8- and 16-bit (any real pixel type in
fact), gray, gray+alpha, two-channel, RGB and RGBA. Per image:

0. read the size from the file header; more than ``max_pixels`` (default 100 MP) is a reject and
   is never decoded, so a small compressed file that claims 20,000 × 20,000 pixels costs nothing;
1. decode; drop an alpha channel; put channels last (TIFF ``CYX`` / planar ``SYX`` stacks and
   unlabelled stacks of at most 3 pages are channels; z-stacks, time series and longer stacks are
   rejected, as are images with more than 3 colour channels);
2. match ``channels``: RGB → gray by luminance (Rec. 709 weights, as skimage's ``rgb2gray``),
   two channels → their mean; gray → repeated three times, two channels → padded with a zero third;
3. geometry: ``resize`` (anti-aliased, bilinear) or ``crop`` (centre crop);
4. percentile normalization: ``(x - p_lo) / (p_hi - p_lo)`` clipped to [0, 1] over the whole image
   (all channels together);
5. in ``crop`` mode an image smaller than ``size`` is padded with zeros, centred.

A file that is missing, empty, corrupt, of an unsupported type or of an uninterpretable shape is a
reject with its reason, never an exception; so is an image above ``max_pixels``, one with a side
below ``min_side`` (default 8) pixels, and a constant one (all pixels equal: it would become an
all-zero input that carries no information, however it is labelled).

``meta`` holds ``file`` (basename), ``scene`` (the BBBC005 scene key ``C<count>_s<site>`` when the
name parses, else the file stem), ``blur`` (the BBBC005 focus level or None), ``orig_dtype``,
``orig_shape`` and ``sha256`` of the file bytes (for the split's leakage audit: identical files in
two parts are found by hash).

Only numpy is imported at module level; tifffile, Pillow and scikit-image when images are read.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from biodl.bbbc005 import parse_bbbc005_name, scene_key
from biodl.errors import UserError
from biodl.featurizers.base import Featurizer, FeaturizeResult, Reject
from biodl.featurizers.registry import register
from biodl.registry import Choices, Interval

TIFF_EXTENSIONS = (".tif", ".tiff")
PIL_EXTENSIONS = (".png", ".jpg", ".jpeg")
SUPPORTED_EXTENSIONS = TIFF_EXTENSIONS + PIL_EXTENSIONS
MODES = ("resize", "crop")
#: 100 megapixels: a 10,000 × 10,000 slide scan passes; decoding takes ≤ 0.8 GB as float64
DEFAULT_MAX_PIXELS = 100_000_000
#: below 8 pixels a side there is no cell to see, only what resizing makes up
DEFAULT_MIN_SIDE = 8
META_COLUMNS = ("file", "scene", "blur", "orig_dtype", "orig_shape", "sha256")
#: Rec. 709 luminance, the weights of skimage.color.rgb2gray
LUMINANCE = np.array([0.2125, 0.7154, 0.0721])


class _Bad(Exception):
    """An image that cannot be featurized; the message is the reject reason."""


@register
class ImageFeaturizer(Featurizer):
    """Read image files into normalized ``float32`` arrays of shape ``(channels, H, W)``.

    size:        output (height, width); an int means a square.
    mode:        ``"resize"`` (anti-aliased) or ``"crop"`` (centre crop, zero padding if smaller).
    channels:    1 (gray; RGB is converted by luminance) or 3 (gray is repeated).
    percentiles: (low, high) percentiles mapped to 0 and 1, per image, then clipped to [0, 1].
    max_pixels:  images with more pixels (height × width × planes, read from the file header) are
                 rejects and are never decoded: a small compressed file can claim gigabytes.
    min_side:    images with a side shorter than this many pixels are rejects: resizing them up
                 invents the picture.
    """

    name: ClassVar[str] = "image"
    modality: ClassVar[str] = "image"
    layout: ClassVar[str] = "image"
    param_constraints: ClassVar[dict] = {
        "mode": Choices(*MODES),
        "channels": Choices(1, 3),
        "max_pixels": Interval(1, None),
        "min_side": Interval(1, None),
    }
    chunk_size: ClassVar[int] = 64  # images are large: small chunks keep transfers and memory low

    def __init__(
        self,
        size: int | Sequence[int] = (128, 128),
        mode: str = "resize",
        channels: int = 1,
        percentiles: Sequence[float] = (1.0, 99.8),
        max_pixels: int = DEFAULT_MAX_PIXELS,
        min_side: int = DEFAULT_MIN_SIDE,
        n_jobs: int | None = 1,
    ):
        super().__init__(n_jobs=n_jobs)
        what = "featurizer 'image'"
        if isinstance(size, (int, np.integer)):
            size = (int(size), int(size))
        try:
            size = [int(s) for s in size]
        except (TypeError, ValueError):
            raise UserError(f"{what}: size must be an int or (height, width), got {size!r}") from None
        if len(size) != 2 or min(size) < 1:
            raise UserError(f"{what}: size must be two positive ints (height, width), got {size!r}")
        if mode not in MODES:
            raise UserError(f"{what}: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if channels not in (1, 3):
            raise UserError(f"{what}: channels must be 1 or 3, got {channels!r}")
        try:
            percentiles = [float(p) for p in percentiles]
        except (TypeError, ValueError):
            raise UserError(f"{what}: percentiles must be two numbers, got {percentiles!r}") from None
        if len(percentiles) != 2 or not 0.0 <= percentiles[0] < percentiles[1] <= 100.0:
            raise UserError(
                f"{what}: percentiles must be (low, high) with 0 <= low < high <= 100, "
                f"got {percentiles!r}"
            )
        for key, value in (("max_pixels", max_pixels), ("min_side", min_side)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise UserError(f"{what}: {key} must be a positive int, got {value!r}")
        self.size = size  # lists, so params are JSON-able and round-trip through a spec
        self.mode = mode
        self.channels = int(channels)
        self.percentiles = percentiles
        self.max_pixels = int(max_pixels)
        self.min_side = int(min_side)

    def _empty_X(self) -> np.ndarray:
        return np.zeros((0, self.channels, *self.size), dtype=np.float32)

    def _featurize_chunk(self, inputs: list, *, offset: int, meta: bool) -> FeaturizeResult:
        rows: list[np.ndarray] = []
        kept: list[int] = []
        rejects: list[Reject] = []
        cols: dict[str, list] = {k: [] for k in META_COLUMNS}
        for i, item in enumerate(inputs):
            try:
                x, info = self._one(item)
            except _Bad as exc:
                rejects.append(Reject(index=offset + i, input=str(item), reason=str(exc)))
                continue
            except Exception as exc:  # never raise for one bad row
                reason = f"could not process image: {type(exc).__name__}: {_short(exc)}"
                rejects.append(Reject(index=offset + i, input=str(item), reason=reason))
                continue
            rows.append(x)
            kept.append(offset + i)
            if meta:
                path = Path(item)
                parsed = parse_bbbc005_name(path.name)
                cols["file"].append(path.name)
                cols["scene"].append(scene_key(path.name) if parsed else path.stem)
                cols["blur"].append(parsed["blur"] if parsed else None)
                cols["orig_dtype"].append(info["dtype"])
                cols["orig_shape"].append(info["shape"])
                cols["sha256"].append(info["sha256"])
        X = np.stack(rows).astype(np.float32, copy=False) if rows else self._empty_X()
        return FeaturizeResult(
            X=X, kept=np.asarray(kept, dtype=np.int64), rejects=rejects, meta=cols if meta else {}
        )

    # -- one image --------------------------------------------------------------------------------
    def _one(self, item: Any) -> tuple[np.ndarray, dict]:
        if not isinstance(item, (str, os.PathLike)) or str(item) == "":
            raise _Bad(f"not a file path: {item!r}")
        path = Path(item)
        if not path.exists():
            raise _Bad("file not found")
        if not path.is_file():
            raise _Bad("not a regular file")
        ext = path.suffix.lower()
        if ext not in SUPPORTED_EXTENSIONS:
            shown = repr(ext) if ext else "none"
            raise _Bad(f"unsupported extension {shown} (supported: {', '.join(SUPPORTED_EXTENSIONS)})")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _Bad(f"cannot read file: {exc.strerror or exc}") from None
        if not data:
            raise _Bad("empty file (0 bytes)")
        if ext in TIFF_EXTENSIONS:
            img, orig = _decode_tiff(data, self.max_pixels)
        else:
            img, orig = _decode_pil(data, ext, self.max_pixels)
        info = {
            "dtype": str(orig.dtype),
            "shape": str(tuple(orig.shape)),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        return self._transform(img), info

    def _transform(self, img: np.ndarray) -> np.ndarray:
        """(H, W) or (H, W, c) with c in 1..3, any real dtype → float32 (channels, *size) in [0, 1]."""
        if img.dtype == bool:
            img = img.astype(np.uint8)
        if not (np.issubdtype(img.dtype, np.integer) or np.issubdtype(img.dtype, np.floating)):
            raise _Bad(f"unsupported pixel type {img.dtype}")
        img = np.asarray(img, dtype=np.float64)
        if img.ndim == 2:
            img = img[:, :, None]
        if img.shape[0] == 0 or img.shape[1] == 0:
            raise _Bad(f"image has no pixels (shape {img.shape[:2]})")
        if min(img.shape[:2]) < self.min_side:
            h, w = img.shape[:2]
            raise _Bad(f"image is {h} × {w} pixels, smaller than min_side={self.min_side}")
        finite = np.isfinite(img)
        if not finite.all():
            if not finite.any():
                raise _Bad("image has no finite pixel values")
            img = np.where(finite, img, np.nan)
        img = _match_channels(img, self.channels)
        lo, hi = np.nanmin(img), np.nanmax(img)
        if lo == hi:  # normalization would map it to all zeros: an input with no information
            raise _Bad(f"constant image (every pixel is {lo:g})")
        H, W = self.size
        if self.mode == "resize":
            if img.shape[:2] != (H, W):
                from skimage.transform import resize

                nan = np.isnan(img)
                if nan.any():  # resize does not propagate NaN sensibly: fill with the median
                    img = np.where(nan, np.nanmedian(img), img)
                img = resize(img, (H, W, img.shape[2]), order=1, mode="reflect", anti_aliasing=True,
                             preserve_range=True)
        else:
            h, w = img.shape[:2]
            top, left = max(0, (h - H) // 2), max(0, (w - W) // 2)
            img = img[top : top + H, left : left + W]
        img = _normalize(img, *self.percentiles)
        if img is None:  # e.g. the image varies, but not inside the centre crop
            raise _Bad(f"no contrast left after {self.mode} to {H} × {W}")
        if img.shape[:2] != (H, W):  # crop mode, image smaller than size: centre it on zeros
            h, w = img.shape[:2]
            out = np.zeros((H, W, img.shape[2]), dtype=img.dtype)
            top, left = (H - h) // 2, (W - w) // 2
            out[top : top + h, left : left + w] = img
            img = out
        return np.ascontiguousarray(np.moveaxis(img, -1, 0), dtype=np.float32)


# -- decoding -------------------------------------------------------------------------------------
def _short(exc: BaseException, limit: int = 160) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def _check_pixels(shape: Sequence[int], axes: str, max_pixels: int) -> None:
    """Reject an image whose header claims more than ``max_pixels`` pixels, before decoding.

    Pixels are height × width × planes (pages, z, time, channels stored as planes); samples of
    one pixel (RGB, RGBA) do not count, so the limit means the same for gray and colour images.
    """
    count = 1
    for n, ax in zip(shape, axes or "Q" * len(shape)):
        if not (ax == "S" and n <= 4):
            count *= int(n)
    if count > max_pixels:
        shown = " × ".join(str(int(n)) for n in shape)
        raise _Bad(f"image has {count:,} pixels ({shown}), more than max_pixels={max_pixels:,}; not decoded")


def _decode_tiff(data: bytes, max_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (image as (H, W) or (H, W, c≤3), the array as stored). Sizes are checked from the
    header, before any pixel is decoded."""
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            if not tif.series:
                raise _Bad("TIFF holds no image")
            series = tif.series[0]
            _check_pixels(series.shape, series.axes, max_pixels)
            arr = series.asarray()
            axes = series.axes
            page = tif.pages[0]
            photometric = int(getattr(page, "photometric", -1) or -1)
            extrasamples = tuple(getattr(page, "extrasamples", ()) or ())
    except _Bad:
        raise
    except Exception as tiff_exc:
        # tifffile lacks some codecs without imagecodecs (LZW, JPEG); Pillow decodes many of them
        try:
            return _decode_pil(data, ".tif", max_pixels)
        except _Bad:
            raise _Bad(f"unreadable TIFF: {type(tiff_exc).__name__}: {_short(tiff_exc)}") from None
    return _interpret_tiff(arr, axes, photometric, extrasamples), arr


def _interpret_tiff(arr: np.ndarray, axes: str, photometric: int, extrasamples: tuple) -> np.ndarray:
    if len(axes) != arr.ndim:  # should not happen; fall back to shape alone
        axes = "Q" * (arr.ndim - 2) + "YX"
    keep = [k for k, n in enumerate(arr.shape) if n != 1 or axes[k] in "YX"]
    arr = arr.reshape([arr.shape[k] for k in keep])
    axes = "".join(axes[k] for k in keep)
    if arr.ndim == 2:
        return arr
    if arr.ndim != 3 or "Y" not in axes or "X" not in axes:
        raise _Bad(f"a {arr.ndim}-D TIFF stack (shape {arr.shape}, axes {axes!r}) is not one 2-D image")
    k = next(k for k, a in enumerate(axes) if a not in "YX")
    ax, n, shape = axes[k], arr.shape[k], arr.shape
    arr = np.moveaxis(arr, k, -1)
    if ax == "S":  # samples per pixel: gray+alpha, RGB, RGBA
        has_alpha = bool(extrasamples) or (n == 4 and photometric == 2)
        if has_alpha and n in (2, 4):
            arr = arr[..., :-1]
        elif n > 3:
            raise _Bad(f"TIFF has {n} samples per pixel; at most 3 colour channels (+ alpha) are supported")
        return arr
    if ax in "ZT":
        what = "z-stack" if ax == "Z" else "time series"
        raise _Bad(f"TIFF is a {what} of {n} planes (shape {shape}, axes {axes!r}); expected one 2-D image")
    if n > 3 and ax == "C":
        raise _Bad(f"TIFF has {n} channels (shape {shape}, axes {axes!r}); at most 3 channels are supported")
    if n > 3:
        raise _Bad(
            f"TIFF is a stack of {n} pages (shape {shape}, axes {axes!r}); only stacks of at most 3 "
            "pages can be read (as channels)"
        )
    return arr  # C (channels) or an unlabelled stack of ≤ 3 pages: channels


def _decode_pil(data: bytes, ext: str, max_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    kind = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(ext, "TIFF")
    try:
        with _own_size_check(Image), Image.open(io.BytesIO(data)) as im:
            n_frames = int(getattr(im, "n_frames", 1) or 1)
            if n_frames > 1 and kind == "TIFF":
                raise _Bad(f"TIFF has {n_frames} pages that could not be read as one image")
            _check_pixels((im.height, im.width), "YX", max_pixels)  # open() read the header only
            im.load()
            mode = im.mode
            orig = np.asarray(im)
            if mode in ("1", "L", "I", "F") or mode.startswith("I;16"):
                arr = orig
            elif mode in ("LA", "La", "PA"):
                arr = np.asarray(im.convert("LA"))[..., 0]
            elif mode == "P":
                arr = np.asarray(im.convert("RGBA" if "transparency" in im.info else "RGB"))[..., :3]
            elif mode in ("RGBA", "RGBa", "RGBX"):
                arr = np.asarray(im.convert("RGBA"))[..., :3]
            else:  # RGB, CMYK, YCbCr, LAB, HSV ...
                arr = np.asarray(im.convert("RGB"))
    except _Bad:
        raise
    except UnidentifiedImageError:
        raise _Bad(f"corrupt or unreadable {kind} file (not a recognizable image)") from None
    except Exception as exc:  # truncated data, bad CRC, decoder errors
        raise _Bad(f"corrupt or unreadable {kind} file: {type(exc).__name__}: {_short(exc)}") from None
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr, orig


@contextmanager
def _own_size_check(Image):
    """Switch off Pillow's decompression-bomb guard while we open a file: we check the header
    against ``max_pixels`` ourselves, and Pillow's fixed 89 MP warning / 179 MP error would
    otherwise override the configured limit with a less clear reason. Featurization runs in
    processes, not threads, so the module-level setting is restored before anyone else reads it."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


# -- pixels ---------------------------------------------------------------------------------------
def _match_channels(img: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, c) with c in 1..3 → (H, W, channels)."""
    c = img.shape[2]
    if c == channels:
        return img
    if channels == 1:
        if c == 3:
            return (img @ LUMINANCE)[:, :, None]
        return img.mean(axis=2, keepdims=True)  # two channels: no luminance to speak of
    if c == 1:
        return np.repeat(img, 3, axis=2)
    return np.concatenate([img, np.zeros_like(img[:, :, :1])], axis=2)  # two channels → R, G, 0


def _normalize(img: np.ndarray, p_lo: float, p_hi: float) -> np.ndarray | None:
    """Map the image's p_lo / p_hi percentiles to 0 / 1 and clip; NaN → 0. ``None`` for a
    constant image (it has nothing to normalize; the caller rejects it)."""
    vals = img[np.isfinite(img)]
    if vals.size == 0:
        return None
    lo, hi = np.percentile(vals, [p_lo, p_hi])
    if not hi > lo:  # percentiles collapsed onto one value (a mostly flat image)
        hi = vals.max()
        if not hi > lo:
            return None
    out = (img - lo) / (hi - lo)
    return np.nan_to_num(np.clip(out, 0.0, 1.0), nan=0.0)


# -- label images (instance masks) ------------------------------------------------------------
def read_label_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An instance mask as stored (no scaling or conversion), through the same decoders and pixel
    guard as images; ValueError with the reason when it cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read file: {exc.strerror or exc}") from None
    if not data:
        raise ValueError("empty file (0 bytes)")
    ext = path.suffix.lower()
    try:
        img, orig = _decode_tiff(data, max_pixels) if ext in TIFF_EXTENSIONS else _decode_pil(data, ext, max_pixels)
    except _Bad as exc:
        raise ValueError(str(exc)) from None
    # as stored where it is one plane: a palette PNG's indices are its labels, not its colours
    return orig if orig.ndim == 2 else img


def check_mask(mask: np.ndarray, *, name: str = "mask") -> np.ndarray:
    """A label image as int64 (H, W); ValueError naming what is wrong (not 2-D, not integer-valued,
    negative labels)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{name} must be a 2-D label image, got shape {mask.shape}")
    if mask.dtype.kind == "f":
        if not np.isfinite(mask).all() or (mask != np.round(mask)).any():
            raise ValueError(f"{name} has non-integer labels (a label image holds 0 and object numbers 1..n)")
    elif mask.dtype.kind not in "iub":
        raise ValueError(f"{name} has dtype {mask.dtype}, not integer labels")
    if mask.size and mask.min() < 0:
        raise ValueError(f"{name} has negative labels")
    return mask.astype(np.int64, copy=False)


def n_objects(mask: np.ndarray) -> int:
    """Number of distinct nonzero labels."""
    labels = np.unique(check_mask(mask))
    return int((labels != 0).sum())


__all__ = ["SUPPORTED_EXTENSIONS", "ImageFeaturizer", "check_mask", "n_objects", "read_label_image"]
