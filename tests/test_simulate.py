"""The BBBC005-style simulator: deterministic, BBBC005 names, one layout per scene."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from biodl.simulate import (
    DEFAULT_BLURS,
    DEFAULT_COUNTS,
    DEFAULT_SITES,
    bbbc005_name,
    blur_sigma,
    parse_bbbc005_name,
    render,
    scene_key,
    simulate_cells,
    simulate_scene,
    well_for,
)

SMALL = dict(counts=(1, 4, 9), sites=2, blurs=(1, 48), size=64, seed=3)


def _read(path):
    import tifffile

    return tifffile.imread(path)


def _corr(a, b):
    a, b = a.astype(float).ravel(), b.astype(float).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def test_default_is_a_few_hundred_images():
    assert len(DEFAULT_COUNTS) * DEFAULT_SITES * len(DEFAULT_BLURS) == 360


def test_two_runs_are_byte_identical(tmp_path):
    a = simulate_cells(tmp_path / "a", **SMALL)
    b = simulate_cells(tmp_path / "b", **SMALL)
    assert len(a) == len(b) == 3 * 2 * 2
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes()
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()
    # nothing but the two outputs: the temporary directories are gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_an_image_does_not_depend_on_the_other_scenes(tmp_path):
    alone = simulate_cells(tmp_path / "alone", counts=(4,), sites=[2], blurs=(48,), size=64, seed=3)
    many = simulate_cells(tmp_path / "many", **SMALL)
    match = [p for p in many if p.name == alone[0].name]
    assert len(match) == 1 and match[0].read_bytes() == alone[0].read_bytes()


def test_seed_changes_the_images(tmp_path):
    a = simulate_cells(tmp_path / "a", counts=(5,), sites=1, blurs=(1,), size=64, seed=0)
    b = simulate_cells(tmp_path / "b", counts=(5,), sites=1, blurs=(1,), size=64, seed=1)
    assert a[0].name == b[0].name and a[0].read_bytes() != b[0].read_bytes()


def test_images_are_8bit_single_channel(tmp_path):
    paths = simulate_cells(tmp_path / "d", **SMALL)
    for p in paths:
        img = _read(p)
        assert img.dtype == np.uint8 and img.shape == (64, 64)
        assert p.suffix == ".TIF"


def test_manifest(tmp_path):
    paths = simulate_cells(tmp_path / "d", **SMALL)
    m = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert m["n_images"] == len(paths) == 12 and m["n_scenes"] == 6
    assert m["params"]["counts"] == [1, 4, 9] and m["params"]["sites"] == [1, 2] and m["params"]["seed"] == 3
    for p in paths:
        assert m["files"][p.name] == hashlib.sha256(p.read_bytes()).hexdigest()
    listing = "".join(f"{m['files'][n]}  {n}\n" for n in sorted(m["files"]))
    assert m["files_sha256"] == hashlib.sha256(listing.encode()).hexdigest()


def test_replaces_its_own_output_but_not_a_foreign_directory(tmp_path):
    out = tmp_path / "d"
    simulate_cells(out, counts=(2, 3), sites=1, blurs=(1,), size=32)
    paths = simulate_cells(out, counts=(2,), sites=1, blurs=(1,), size=32)  # replaced, not merged
    assert sorted(p.name for p in out.iterdir()) == sorted([paths[0].name, "manifest.json", "ground_truth"])
    assert [p.name for p in (out / "ground_truth").iterdir()] == [paths[0].name]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        simulate_cells(foreign, counts=(2,), sites=1, blurs=(1,), size=32)
    assert (foreign / "notes.txt").read_text() == "keep me"



def test_temporaries_of_a_killed_run_are_removed_by_the_next(tmp_path):
    (tmp_path / ".d.tmp-0123abcd").mkdir()  # as a run killed while writing leaves it
    (tmp_path / ".d.tmp-0123abcd" / "SIMCEPImages_A01_C1_F1_s01_w1.TIF").write_bytes(b"half")
    (tmp_path / ".d.old-4567ef01").mkdir()  # killed between the two renames
    simulate_cells(tmp_path / "d", counts=(2,), sites=1, blurs=(1,), size=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]

# -- names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, expected",
    [
        ("SIMCEPImages_A05_C18_F1_s03_w1.TIF", dict(well="A05", count=18, blur=1, site=3, stain=1)),
        ("SIMCEPImages_A24_C100_F48_s25_w2.TIF", dict(well="A24", count=100, blur=48, site=25, stain=2)),
        ("/some/dir/SIMCEPImages_A01_C1_F1_s01_w1.tif", dict(well="A01", count=1, blur=1, site=1, stain=1)),
        ("SIMCEPImages_A13_C53_F16_s09_w2.png", dict(well="A13", count=53, blur=16, site=9, stain=2)),
    ],
)
def test_parse_real_bbbc005_names(name, expected):
    assert parse_bbbc005_name(name) == expected


@pytest.mark.parametrize(
    "name",
    ["cell_001.tif", "SIMCEPImages_A05_C18_F1_w1.TIF", "SIMCEPImages_A05_Cx_F1_s03_w1.TIF", "", "x_C1_F1"],
)
def test_parse_rejects_other_names(name):
    assert parse_bbbc005_name(name) is None
    assert scene_key(name) is None


def test_name_round_trip():
    for count in (0, 1, 9, 10, 30, 100):
        for blur in (1, 10, 48):
            for site in (1, 3, 25):
                name = bbbc005_name(count, blur, site)
                d = parse_bbbc005_name(name)
                assert d == dict(well=well_for(count), count=count, blur=blur, site=site, stain=1)
                assert scene_key(name) == f"C{count}_s{site}"


def test_names_follow_bbbc005_convention():
    # count and blur unpadded, site two digits, well from the count (C1 → A01)
    assert bbbc005_name(1, 1, 1) == "SIMCEPImages_A01_C1_F1_s01_w1.TIF"
    assert bbbc005_name(18, 48, 3) == "SIMCEPImages_A18_C18_F48_s03_w1.TIF"
    assert well_for(24) == "A24" and well_for(25) == "B01"


def test_scene_key_ignores_blur_and_stain():
    keys = {scene_key(bbbc005_name(7, blur, 2, stain)) for blur in (1, 23, 48) for stain in (1, 2)}
    assert keys == {"C7_s2"}
    assert scene_key(bbbc005_name(7, 1, 3)) != scene_key(bbbc005_name(7, 1, 2))


# -- content -------------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [0, 1, 5, 17, 30])
def test_count_in_name_equals_cells_drawn(count):
    scene = simulate_scene(count, site=1, seed=0, size=96)
    assert scene.n_cells == count == len(scene.ellipses)
    cy, cx = scene.ellipses[:, 0], scene.ellipses[:, 1]
    assert np.all((cy >= 0) & (cy < 96) & (cx >= 0) & (cx < 96))  # every cell is centred in view


def test_more_cells_more_foreground():
    frac = [np.mean(render(simulate_scene(c, 1, size=128), 1) > 60) for c in (0, 5, 15, 30)]
    assert frac[0] == 0.0
    assert frac[0] < frac[1] < frac[2] < frac[3]


def test_blur_variants_share_the_layout(tmp_path):
    paths = simulate_cells(tmp_path / "d", counts=(12,), sites=2, blurs=(1, 48), size=128, seed=0)
    imgs = {p.name: _read(p) for p in paths}
    f1, f48 = imgs[bbbc005_name(12, 1, 1)], imgs[bbbc005_name(12, 48, 1)]
    other48 = imgs[bbbc005_name(12, 48, 2)]
    from scipy.ndimage import gaussian_filter

    extra = np.sqrt(blur_sigma(48) ** 2 - blur_sigma(1) ** 2)
    f1_blurred = gaussian_filter(f1.astype(float), extra)
    assert _corr(f1_blurred, f48) > 0.9  # same cells, only the focus differs
    assert _corr(f1_blurred, other48) < 0.5  # another site is another layout


def test_heavy_blur_is_visibly_blurry():
    scene = simulate_scene(15, 1, size=128)
    sharp, blurry = render(scene, 1).astype(float), render(scene, 48).astype(float)

    def edges(img):
        from scipy.ndimage import gaussian_filter

        smooth = gaussian_filter(img, 1.0)  # ignore pixel noise
        return np.abs(np.diff(smooth, axis=0)).mean() + np.abs(np.diff(smooth, axis=1)).mean()

    assert edges(blurry) < 0.4 * edges(sharp)
    assert blur_sigma(1) < blur_sigma(10) < blur_sigma(23) < blur_sigma(48)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        simulate_cells(tmp_path / "x", counts=(), sites=1)
    with pytest.raises(ValueError):
        simulate_cells(tmp_path / "x", counts=(1,), sites=0)
    with pytest.raises(ValueError):
        simulate_cells(tmp_path / "x", counts=(1,), blurs=(0,))
    assert not (tmp_path / "x").exists()


def test_readers_and_featurizers_parse_names_without_the_simulator():
    """Imports follow the data flow: the BBBC005 name parser has its own module."""
    import subprocess
    import sys

    code = ("import sys, biodl.sources, biodl.featurizers.images, biodl.bbbc005; "
            "print('biodl.simulate' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    from biodl import bbbc005, simulate

    assert simulate.parse_bbbc005_name is bbbc005.parse_bbbc005_name  # re-exported for old callers



# -- non-square images (BBBC005's own are 696 × 520) ----------------------------------------------
def _labels(mask):
    return sorted(set(np.unique(mask).tolist()) - {0})


def test_non_square_images_and_masks_are_height_rows_by_width_columns(tmp_path):
    paths = simulate_cells(tmp_path / "d", counts=(0, 6, 25), sites=1, blurs=(1, 48), size=(96, 64), seed=2)
    assert len(paths) == 6
    for p in paths:
        img = _read(p)
        assert img.dtype == np.uint8 and img.shape == (64, 96)  # (height, width): rows first
    truth = sorted((tmp_path / "d" / "ground_truth").iterdir())
    assert len(truth) == 3
    for p in truth:
        mask = _read(p)
        assert mask.dtype == np.uint16 and mask.shape == (64, 96)
        count = parse_bbbc005_name(p.name)["count"]
        assert _labels(mask) == list(range(1, count + 1))  # the count in the name is the cells drawn
    # cells use the whole width, not just a square of the height
    crowded = _read(tmp_path / "d" / "ground_truth" / bbbc005_name(25, 1, 1))
    assert crowded[:, 64:].any() and crowded[:, :32].any()
    m = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert m["params"]["size"] == [96, 64]
    # blur (and cell size) scale with the shorter side
    assert m["params"]["blur_sigma_px"]["48"] == round(blur_sigma(48, 64), 6)


@pytest.mark.parametrize("size", [(96, 64), (48, 80)])
def test_non_square_cells_lie_inside_the_image(size):
    from biodl.simulate import instance_mask

    width, height = size
    for count in (1, 12, 30):
        scene = simulate_scene(count, site=1, seed=0, size=size)
        assert scene.shape == (height, width) == (scene.height, scene.width) == scene.clean.shape
        assert scene.n_cells == count
        cy, cx, a = scene.ellipses[:, 0], scene.ellipses[:, 1], scene.ellipses[:, 2]
        assert np.all((cy - 0.6 * a >= 0) & (cy + 0.6 * a <= height - 1))
        assert np.all((cx - 0.6 * a >= 0) & (cx + 0.6 * a <= width - 1))
        mask = instance_mask(scene)
        assert mask.shape == (height, width) and _labels(mask) == list(range(1, count + 1))
        assert render(scene, 23).shape == (height, width)


def test_bbbc005_sized_scene():
    scene = simulate_scene(3, 1, size=[696, 520])
    assert scene.size == (696, 520) and scene.shape == (520, 696)
    assert render(scene, 1).shape == (520, 696)


def test_a_square_pair_is_the_square(tmp_path):
    a, b = simulate_scene(7, 2, seed=1, size=64), simulate_scene(7, 2, seed=1, size=(64, 64))
    assert b.size == 64 and np.array_equal(a.clean, b.clean) and np.array_equal(a.ellipses, b.ellipses)
    pa = simulate_cells(tmp_path / "a", counts=(3,), sites=1, blurs=(1,), size=32)
    pb = simulate_cells(tmp_path / "b", counts=(3,), sites=1, blurs=(1,), size=[32, 32])
    assert pa[0].read_bytes() == pb[0].read_bytes()
    manifest = (tmp_path / "b" / "manifest.json").read_text()
    assert manifest == (tmp_path / "a" / "manifest.json").read_text() and json.loads(manifest)["params"]["size"] == 32


def test_size_forms():
    from biodl.simulate import image_shape, normalize_size, parse_size

    assert parse_size("128") == 128 and parse_size("696x520") == (696, 520) and parse_size("64X64") == 64
    assert normalize_size([696, 520]) == (696, 520) and image_shape((696, 520)) == (520, 696)
    assert blur_sigma(48, (696, 520)) == blur_sigma(48, 520)
    for bad in ("696x", "0x5", "x520", "696x520x3", "-64", "12.5", "", "8"):
        with pytest.raises(ValueError):
            parse_size(bad)
    for bad in ((696,), (1, 2, 3), 64.0, True, (64, "64"), (0, 64)):
        with pytest.raises(ValueError):
            normalize_size(bad)


def test_bad_non_square_size(tmp_path):
    with pytest.raises(ValueError, match=">= 16"):
        simulate_cells(tmp_path / "x", counts=(1,), sites=1, size=(64, 8))
    assert not (tmp_path / "x").exists()


def test_cli_size_accepts_width_x_height_and_rejects_malformed(tmp_path, capsys):
    from biodl.cli import main

    assert main(["simulate-cells", "-o", str(tmp_path / "d"), "--counts", "2", "--sites", "1", "--blurs", "1",
                 "--size", "96x64"]) == 0
    assert _read(tmp_path / "d" / bbbc005_name(2, 1, 1)).shape == (64, 96)
    for bad in ("696x", "0x5"):
        capsys.readouterr()
        assert main(["simulate-cells", "-o", str(tmp_path / "e"), "--size", bad]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("biodl simulate-cells: error: --size"), err
        assert repr(bad) in err
    assert not (tmp_path / "e").exists()
