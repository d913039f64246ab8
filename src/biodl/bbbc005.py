"""BBBC005 file names: ``SIMCEPImages_<well>_C<count>_F<blur>_s<site:02d>_w<stain>.TIF``.

The name carries the labels (cell count, focus-blur level) and the scene a leakage-free split must
keep together, so readers (biodl.sources), featurizers (biodl.featurizers.images) and the simulator
(biodl.simulate) all parse it here; none of them imports another for it.

>>> parse_bbbc005_name("SIMCEPImages_A05_C18_F1_s03_w1.TIF")
{'well': 'A05', 'count': 18, 'blur': 1, 'site': 3, 'stain': 1}
>>> scene_key("SIMCEPImages_A05_C18_F1_s03_w1.TIF")
'C18_s3'
>>> bbbc005_name(5, 1, 3)
'SIMCEPImages_A05_C5_F1_s03_w1.TIF'

Count and blur are *not* zero-padded (``C1``, ``F48``), the site is two digits (``s01``) and the
well is a function of the count alone (``C1`` → ``A01``, the next count → ``A02``, 24 wells a row).

Only the standard library is imported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: BBBC005's own blur levels (round(linspace(1, 48, 16)))
BBBC005_BLURS: tuple[int, ...] = (1, 4, 7, 10, 14, 17, 20, 23, 26, 29, 32, 35, 39, 42, 45, 48)
PLATE_ROWS = "ABCDEFGHIJKLMNOP"  # a 384-well plate: 16 rows × 24 columns
PLATE_COLS = 24
#: what a reject reason shows a user whose file names do not parse
PATTERN = "SIMCEPImages_<well>_C<count>_F<blur>_s<site>_w<stain>"

_NAME_RE = re.compile(
    r"^SIMCEPImages_(?P<well>[A-Za-z]{1,2}\d{1,3})_C(?P<count>\d+)_F(?P<blur>\d+)"
    r"_s(?P<site>\d+)_w(?P<stain>\d+)(?:\.[A-Za-z0-9]+)?$"
)


def well_for(count: int) -> str:
    """The plate well of a count, BBBC005 style: C1 → A01, next count → A02, 24 wells a row."""
    k = (int(count) - 1) % (len(PLATE_ROWS) * PLATE_COLS)
    return f"{PLATE_ROWS[k // PLATE_COLS]}{k % PLATE_COLS + 1:02d}"


def bbbc005_name(count: int, blur: int, site: int, stain: int = 1) -> str:
    """``SIMCEPImages_A05_C5_F1_s03_w1.TIF`` for count 5, blur 1, site 3, stain 1."""
    return f"SIMCEPImages_{well_for(count)}_C{int(count)}_F{int(blur)}_s{int(site):02d}_w{int(stain)}.TIF"


def parse_bbbc005_name(name: str | os.PathLike) -> dict | None:
    """Parse a BBBC005 file name (or path) into ``{well, count, blur, site, stain}`` (str, then
    ints); ``None`` if it is not one. Any extension is accepted (converted copies are often
    ``.png`` / ``.jpg``)."""
    try:
        base = Path(name).name
    except TypeError:
        return None
    m = _NAME_RE.match(base)
    if m is None:
        return None
    d = m.groupdict()
    return {
        "well": d["well"].upper(),
        "count": int(d["count"]),
        "blur": int(d["blur"]),
        "site": int(d["site"]),
        "stain": int(d["stain"]),
    }


def scene_key(name: str | os.PathLike) -> str | None:
    """``"C<count>_s<site>"`` for a BBBC005 name: the same for every blur level and stain of one
    field of view, so it is the group key a leakage-free split keeps together. ``None`` otherwise."""
    p = parse_bbbc005_name(name)
    return None if p is None else f"C{p['count']}_s{p['site']}"


__all__ = ["BBBC005_BLURS", "PATTERN", "PLATE_COLS", "PLATE_ROWS", "bbbc005_name", "parse_bbbc005_name",
           "scene_key", "well_for"]
