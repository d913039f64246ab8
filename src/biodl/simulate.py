"""A deterministic simulator of BBBC005-style fluorescence cell images.

BBBC005 (Broad Bioimage Benchmark Collection) holds SIMCEP-simulated images of stained cells with a
known cell count, rendered at several focus-blur levels. Every blur level of one *scene* (count,
site) shows the same cells; only the blur differs. That makes the scene the unit a split must keep
together, or the test set leaks blurred copies of training images.

This module writes a small stand-in for it, offline and byte-for-byte reproducible:

>>> paths = simulate_cells("data/bbbc005_sim")                       # doctest: +SKIP
>>> len(paths)                                                       # doctest: +SKIP
360
>>> parse_bbbc005_name("SIMCEPImages_A05_C18_F1_s03_w1.TIF")
{'well': 'A05', 'count': 18, 'blur': 1, 'site': 3, 'stain': 1}
>>> scene_key("SIMCEPImages_A05_C18_F1_s03_w1.TIF")
'C18_s3'

File names follow BBBC005 exactly: ``SIMCEPImages_<well>_C<count>_F<blur>_s<site:02d>_w<stain>.TIF``
(:mod:`biodl.bbbc005` writes and parses them; its functions are re-exported here).

Images are 8-bit, single channel, square (``size=128``) or ``size=(width, height)`` pixels (BBBC005's
own are 696 × 520); arrays are (height, width), rows first, as numpy and tifffile order them. A cell
is a textured ellipse with a soft edge, random orientation, axes and brightness; with probability
0.25 a cell is placed next to an existing one (SIMCEP's clustering probability), so touching and
overlapping cells occur. The scene is lit unevenly, blurred with a Gaussian whose sigma grows with
the focus level F (``blur_sigma``), then sensor noise is added (Poisson shot noise plus Gaussian
read noise). Seeds derive from ``(seed, count, site)`` for the layout and ``(seed, count, site,
blur, stain)`` for the noise, so one image never depends on which other images were generated.

Only numpy and the standard library are imported at module level; scipy and tifffile are imported
by the functions that draw and write images.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# the file-name scheme lives in its own module (readers and featurizers parse names
# without importing the simulator); re-exported here for existing callers
from biodl.bbbc005 import BBBC005_BLURS, bbbc005_name, parse_bbbc005_name, scene_key, well_for
from biodl.io import atomic_dir

#: default cell counts: one scene per count and site
DEFAULT_COUNTS: tuple[int, ...] = tuple(range(1, 31))
#: default number of sites (fields of view) per count
DEFAULT_SITES: int = 3
#: default focus-blur levels, a subset of BBBC005's 16 levels F1 ... F48
DEFAULT_BLURS: tuple[int, ...] = (1, 10, 23, 48)
CLUSTER_PROBABILITY = 0.25  # as in BBBC005's SIMCEP settings
MANIFEST = "manifest.json"
#: the folder of instance masks inside a simulated set (BBBC005 ships its truth in a folder apart)
GROUND_TRUTH = "ground_truth"
GENERATOR = "biodl.simulate.simulate_cells"
#: the smallest image side the simulator draws
MIN_SIDE = 16

#: an image size: one int (a square of that side) or ``(width, height)`` in pixels
Size = int | tuple[int, int]


def normalize_size(size) -> Size:
    """``size`` as the simulator records it: an int for a square (``128``, also for ``(128, 128)``),
    else the pair ``(width, height)``. Sides must be whole numbers >= 1 (``ValueError`` if not)."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        sides = (int(size), int(size))
    elif (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)):
        sides = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"size must be one int or a pair (width, height) of ints, got {size!r}")
    if min(sides) < 1:
        raise ValueError(f"image sides must be >= 1 pixel, got {size!r}")
    width, height = sides
    return width if width == height else (width, height)


def image_shape(size) -> tuple[int, int]:
    """The array shape ``(height, width)`` of images of ``size`` (an int side or ``(width, height)``)."""
    size = normalize_size(size)
    return (size, size) if isinstance(size, int) else (size[1], size[0])


def parse_size(text: str) -> Size:
    """A size as the command line writes it: ``"128"`` (square) or ``"696x520"`` (width x height);
    ``ValueError`` with a one-line reason unless every side is a whole number >= MIN_SIDE."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", str(text))
    if not match:
        raise ValueError(f"expected a side like 128 or WIDTHxHEIGHT like 696x520, got {text!r}")
    sides = [int(g) for g in match.groups() if g is not None]
    if min(sides) < MIN_SIDE:
        raise ValueError(f"image sides must be >= {MIN_SIDE} pixels, got {text!r}")
    return normalize_size(sides[0] if len(sides) == 1 else tuple(sides))


def _pixel_scale(size) -> float:
    """The length (pixels) that 128 pixels of the reference square image become in an image of ``size``.

    Cell axes, texture grain, the illumination ramp and the blur all scale with it, so a square image
    of any side looks the same, only finer. A non-square image scales by its *shorter* side: it is
    the square image of that side widened along the longer axis, as a wider camera sensor behind the
    same optics gives (the blur and the cells keep their size in pixels; the field of view grows,
    so the same count is spread more thinly). This also keeps every cell inside the image across its
    short axis at any aspect ratio, which scaling by sqrt(width * height) would not. For a square
    image it is the side, so square images are unchanged.
    """
    return float(min(image_shape(size)))


def blur_sigma(blur: int, size: Size = 128) -> float:
    """Gaussian sigma (pixels) of focus level F``blur`` for an image of ``size`` (an int side, or
    ``(width, height)``: then the shorter side counts, see :func:`_pixel_scale`).

    F1 is in focus (a slight optical blur of 0.5 px); sigma grows linearly to 7.55 px at F48 for a
    128-pixel image and scales with the image size so the look does not depend on it.
    """
    if blur < 1:
        raise ValueError(f"blur level must be >= 1, got {blur}")
    return (0.5 + 0.15 * (blur - 1)) * _pixel_scale(size) / 128.0


# -- drawing --------------------------------------------------------------------------------------
@dataclass
class Scene:
    """The cell layout of one field of view, shared by all its blur levels.

    size:     an int side for a square image, else ``(width, height)`` (as :func:`normalize_size`
              gives it); :attr:`shape`, :attr:`height` and :attr:`width` read it either way.
    ellipses: float64 array (count, 6) of ``cy, cx, semi_major, semi_minor, angle, brightness``,
              one row per cell drawn (so ``len(ellipses) == count``); ``cy`` is the row.
    clean:    float64 image (height, width) in [0, 1]: the in-focus, noise-free signal.
    """

    count: int
    site: int
    size: Size
    seed: int
    ellipses: np.ndarray
    clean: np.ndarray

    @property
    def n_cells(self) -> int:
        return len(self.ellipses)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the scene's images and masks."""
        return image_shape(self.size)

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)))


def _layout(count: int, size: Size, rng: np.random.Generator) -> np.ndarray:
    """Place ``count`` ellipses; with CLUSTER_PROBABILITY next to an earlier one (touching)."""
    height, width = image_shape(size)
    scale = _pixel_scale(size) / 128.0
    high = np.array([height - 1.0, width - 1.0])  # the last row and column
    cells = np.zeros((count, 6), dtype=np.float64)
    for i in range(count):
        a = rng.uniform(5.0, 9.0) * scale  # semi-major axis
        b = a * rng.uniform(0.6, 1.0)  # semi-minor axis
        theta = rng.uniform(0.0, np.pi)
        brightness = rng.uniform(0.45, 0.9)
        r = 0.5 * (a + b)
        margin = 0.6 * a
        for _attempt in range(25):  # avoid cells sitting almost on top of each other
            if i > 0 and rng.random() < CLUSTER_PROBABILITY:
                j = int(rng.integers(i))
                phi = rng.uniform(0.0, 2 * np.pi)
                d = (r + 0.5 * (cells[j, 2] + cells[j, 3])) * rng.uniform(0.75, 1.05)
                cy, cx = cells[j, 0] + d * np.sin(phi), cells[j, 1] + d * np.cos(phi)
                cy, cx = np.clip([cy, cx], margin, high - margin)
            else:
                cy, cx = rng.uniform(margin, high - margin)
            if i == 0:
                break
            rj = 0.5 * (cells[:i, 2] + cells[:i, 3])
            dist = np.hypot(cells[:i, 0] - cy, cells[:i, 1] - cx)
            if np.all(dist > 0.6 * (r + rj)):
                break
        cells[i] = (cy, cx, a, b, theta, brightness)
    return cells


def simulate_scene(count: int, site: int, *, seed: int = 0, size: Size = 128) -> Scene:
    """Draw the in-focus, noise-free scene with ``count`` cells for field of view ``site``;
    ``size`` is an int side or ``(width, height)``."""
    from scipy.ndimage import gaussian_filter

    if count < 0:
        raise ValueError(f"cell count must be >= 0, got {count}")
    size = normalize_size(size)
    shape = height, width = image_shape(size)
    px = _pixel_scale(size)
    rng = _rng(seed, count, site, 0)
    cells = _layout(count, size, rng)
    # textures and illumination come from the same per-scene stream, after the layout
    texture = gaussian_filter(rng.standard_normal(shape), 1.2 * px / 128.0)
    texture /= texture.std() + 1e-12
    blotches = gaussian_filter(rng.standard_normal(shape), 3.0 * px / 128.0)
    blotches /= blotches.std() + 1e-12
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    # composition: fluorescence of overlapping cells adds up but saturates (1 - prod(1 - s_i))
    dark = np.ones(shape, dtype=np.float64)
    for cy, cx, a, b, theta, brightness in cells:
        dy, dx = yy - cy, xx - cx
        c, s = np.cos(theta), np.sin(theta)
        u = (dx * c + dy * s) / a
        v = (-dx * s + dy * c) / b
        rho = np.sqrt(u * u + v * v)
        inside = 1.0 / (1.0 + np.exp(np.clip((rho - 1.0) * 10.0, -50, 50)))  # soft edge ~0.1 axis
        dome = 1.0 - 0.35 * np.clip(rho, 0, 1) ** 2  # brighter in the middle
        signal = brightness * inside * dome * np.clip(1.0 + 0.18 * texture + 0.12 * blotches, 0.3, 1.7)
        dark *= 1.0 - np.clip(signal, 0.0, 0.97)
    cells_img = 1.0 - dark
    # uneven illumination: a gentle linear gradient in a random direction
    phi = rng.uniform(0, 2 * np.pi)
    ramp = ((yy - height / 2) * np.sin(phi) + (xx - width / 2) * np.cos(phi)) / px
    illumination = 1.0 + 0.15 * ramp
    clean = np.clip((0.06 + 0.85 * cells_img) * illumination, 0.0, 1.0)
    return Scene(count=int(count), site=int(site), size=size, seed=int(seed), ellipses=cells, clean=clean)


def instance_mask(scene: Scene) -> np.ndarray:
    """uint16 (height, width) instance labels of ``scene``: 0 is background, cell ``k`` (drawing
    order, ``scene.ellipses[k - 1]``) is label ``k``. A pixel belongs to a cell whose ellipse covers
    it (the soft edge's midpoint, where the signal is half its height); where ellipses overlap, to
    the one whose centre is nearest in its own axes' units, so touching cells keep a border between
    them and every cell keeps its centre."""
    height, width = scene.shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    best = np.full((height, width), np.inf)
    mask = np.zeros((height, width), np.uint16)
    for k, (cy, cx, a, b, theta, _brightness) in enumerate(scene.ellipses, start=1):
        dy, dx = yy - cy, xx - cx
        c, s = np.cos(theta), np.sin(theta)
        rho = np.hypot((dx * c + dy * s) / a, (-dx * s + dy * c) / b)
        mine = (rho < 1.0) & (rho < best)
        mask[mine] = k
        best[mine] = rho[mine]
    return mask


def render(scene: Scene, blur: int, *, stain: int = 1) -> np.ndarray:
    """The 8-bit image of ``scene`` at focus level F``blur``: blur, then shot and read noise."""
    from scipy.ndimage import gaussian_filter

    img = gaussian_filter(scene.clean, blur_sigma(blur, scene.size), mode="reflect")
    rng = _rng(scene.seed, scene.count, scene.site, 1, blur, stain)
    photons = 400.0  # photons at full scale: Poisson noise sd ≈ sqrt(I / 400)
    img = rng.poisson(img * photons) / photons
    img = img + rng.normal(0.0, 0.01, size=img.shape)  # read noise
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


# -- writing --------------------------------------------------------------------------------------
def _sites(sites: int | Iterable[int]) -> list[int]:
    if isinstance(sites, (int, np.integer)):
        if sites < 1:
            raise ValueError(f"sites must be >= 1, got {sites}")
        return list(range(1, int(sites) + 1))
    out = sorted({int(s) for s in sites})
    if not out or out[0] < 1:
        raise ValueError(f"site numbers must be >= 1, got {out}")
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def simulate_cells(
    out_dir: str | os.PathLike,
    *,
    counts: Iterable[int] = DEFAULT_COUNTS,
    sites: int | Iterable[int] = DEFAULT_SITES,
    blurs: Iterable[int] = DEFAULT_BLURS,
    size: Size = 128,
    seed: int = 0,
    stain: int = 1,
    masks: bool = True,
) -> list[Path]:
    """Write ``len(counts) × sites × len(blurs)`` 8-bit TIFFs and ``manifest.json`` to ``out_dir``.

    ``masks=True`` also writes each scene's instance labels (:func:`instance_mask`, 16-bit TIFF) to
    ``out_dir/ground_truth/`` under the scene's in-focus (F1) image name, as BBBC005 names its
    ground-truth files: a mask serves every blur level of its scene, and a user's real BBBC005
    ground-truth folder is read the same way.

    ``sites`` is a number of sites (1..sites) or an explicit list of site numbers. ``size`` is one
    int (square images of that side) or ``(width, height)``, e.g. ``(696, 520)`` as BBBC005's; every
    side must be >= 16. The manifest records an int for a square, ``[width, height]`` otherwise. The
    defaults give 30 counts × 3 sites × 4 blur levels = 360 images of 128 × 128 pixels (about 6 MB).

    The directory is written under a temporary name next to ``out_dir`` and renamed at the end, so
    it is complete or absent. An existing ``out_dir`` is replaced only if it is empty or was written
    by this function (it has our manifest); anything else raises ``FileExistsError``.
    Returns the image paths in ``out_dir`` ordered by count, then site, then blur level.
    """
    import tifffile

    import biodl

    counts = sorted({int(c) for c in counts})
    site_list = _sites(sites)
    blur_list = sorted({int(b) for b in blurs})
    if not counts or min(counts) < 0:
        raise ValueError(f"counts must be non-empty and >= 0, got {counts}")
    if not blur_list or min(blur_list) < 1:
        raise ValueError(f"blur levels must be non-empty and >= 1, got {blur_list}")
    size = normalize_size(size)
    if min(image_shape(size)) < MIN_SIDE:
        raise ValueError(f"image sides must be >= {MIN_SIDE} pixels, got {size!r}")

    out_dir = Path(out_dir)
    _check_replaceable(out_dir)
    hashes: dict[str, str] = {}  # in generation order: count, site, blur
    mask_hashes: dict[str, str] = {}
    # complete or absent; temporaries of a killed earlier run are removed here too
    with atomic_dir(out_dir) as tmp:
        for count in counts:
            for site in site_list:
                scene = simulate_scene(count, site, seed=seed, size=size)
                if masks:
                    name = f"{GROUND_TRUTH}/{bbbc005_name(count, 1, site, stain)}"
                    (tmp / GROUND_TRUTH).mkdir(exist_ok=True)
                    tifffile.imwrite(tmp / name, instance_mask(scene), metadata=None)
                    mask_hashes[name] = _sha256((tmp / name).read_bytes())
                for blur in blur_list:
                    name = bbbc005_name(count, blur, site, stain)
                    tifffile.imwrite(tmp / name, render(scene, blur, stain=stain), metadata=None)
                    hashes[name] = _sha256((tmp / name).read_bytes())
        names = sorted(hashes)
        listing = "".join(f"{hashes[n]}  {n}\n" for n in names)  # `sha256sum` format
        manifest = {
            "generator": GENERATOR,
            "biodl_version": biodl.__version__,
            "params": {
                "counts": counts,
                "sites": site_list,
                "blurs": blur_list,
                "size": size if isinstance(size, int) else list(size),  # [width, height]
                "seed": int(seed),
                "stain": int(stain),
                "cluster_probability": CLUSTER_PROBABILITY,
                "blur_sigma_px": {str(b): round(blur_sigma(b, size), 6) for b in blur_list},
            },
            "n_images": len(names),
            "n_scenes": len(counts) * len(site_list),
            "files_sha256": _sha256(listing.encode()),
            "files": {n: hashes[n] for n in names},
            **({"masks": dict(sorted(mask_hashes.items()))} if masks else {}),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return [out_dir / n for n in hashes]


def _check_replaceable(out_dir: Path) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a directory")
    if not any(out_dir.iterdir()):
        return
    try:
        ours = json.loads((out_dir / MANIFEST).read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise FileExistsError(
            f"{out_dir} is not empty and was not written by simulate_cells; not replacing it"
        )


__all__ = [
    "BBBC005_BLURS",
    "DEFAULT_BLURS",
    "DEFAULT_COUNTS",
    "DEFAULT_SITES",
    "MIN_SIDE",
    "Scene",
    "Size",
    "bbbc005_name",
    "blur_sigma",
    "image_shape",
    "instance_mask",
    "normalize_size",
    "parse_bbbc005_name",
    "parse_size",
    "render",
    "scene_key",
    "simulate_cells",
    "simulate_scene",
    "well_for",
]
