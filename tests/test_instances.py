"""Segmentation (issue 13): the simulator's instance masks and the object-matching metrics."""

from __future__ import annotations

import numpy as np
import pytest

from biodl.instances import (
    check_mask,
    iou_matrix,
    match,
    n_objects,
    pixel_scores,
    segmentation_scores,
    watershed_instances,
)
from biodl.simulate import (
    GROUND_TRUTH,
    instance_mask,
    parse_bbbc005_name,
    render,
    simulate_cells,
    simulate_scene,
)


def box(mask, label, y0, y1, x0, x1):
    mask[y0:y1, x0:x1] = label
    return mask


def test_iou_matrix_equals_a_brute_force_count_with_label_gaps():
    truth = box(box(np.zeros((20, 20), int), 3, 0, 10, 0, 10), 7, 12, 20, 12, 20)  # labels 3 and 7
    pred = box(box(np.zeros((20, 20), int), 1, 0, 10, 5, 15), 2, 14, 20, 14, 20)
    iou = iou_matrix(truth, pred)
    brute = [[((truth == t) & (pred == p)).sum() / ((truth == t) | (pred == p)).sum() for p in (1, 2)] for t in (3, 7)]
    np.testing.assert_allclose(iou, brute)
    assert iou[0, 0] == pytest.approx(50 / 150) and iou[1, 1] == pytest.approx(36 / 64)
    full = np.ones((4, 4), int)  # no background at all: one object covering the image
    np.testing.assert_allclose(iou_matrix(full, full), [[1.0]])
    assert iou_matrix(np.zeros((4, 4), int), full).shape == (0, 1)


def test_matching_counts_precision_recall_f1_and_ap_on_hand_made_masks():
    truth = np.zeros((30, 30), int)
    box(truth, 1, 0, 10, 0, 10)     # predicted exactly
    box(truth, 2, 0, 10, 15, 25)    # predicted shifted by 2 columns: IoU 80/120
    box(truth, 3, 20, 30, 0, 10)    # split into two halves by the prediction: IoU 0.5 each... below
    pred = np.zeros((30, 30), int)
    box(pred, 1, 0, 10, 0, 10)
    box(pred, 2, 0, 10, 17, 27)
    box(pred, 3, 20, 30, 0, 4)      # 40 px of truth 3's 100: IoU 0.4
    box(pred, 4, 20, 30, 4, 10)     # 60 px: IoU 0.6
    box(pred, 5, 20, 25, 20, 25)    # nothing there
    counts = match(truth, pred, thresholds=(0.5, 0.65, 0.7, 0.9))
    assert (counts[0.5].tp, counts[0.5].fp, counts[0.5].fn) == (3, 2, 0)
    assert (counts[0.65].tp, counts[0.65].fp, counts[0.65].fn) == (2, 3, 1)  # the shifted box (0.667) still in
    assert (counts[0.7].tp, counts[0.7].fp, counts[0.7].fn) == (1, 4, 2)
    assert counts[0.9].tp == 1
    c = counts[0.5]
    assert (c.precision, c.recall, c.f1, c.average_precision) == pytest.approx((3 / 5, 1.0, 6 / 8, 3 / 5))
    assert c.iou_sum == pytest.approx(1 + 80 / 120 + 0.6)
    empty = match(np.zeros((5, 5), int), np.zeros((5, 5), int), thresholds=(0.5,))[0.5]
    assert (empty.tp, empty.fp, empty.fn, empty.f1) == (0, 0, 0, 1.0)


def test_matching_maximizes_total_iou_where_a_greedy_pairing_would_lose_a_match():
    # at a low threshold a prediction can overlap two cells: the assignment keeps both matches
    truth = np.zeros((10, 20), int)
    truth[:, :10], truth[:, 10:] = 1, 2
    pred = np.zeros((10, 20), int)
    pred[:, 4:16] = 1   # IoU 6/16 with cell 1 and 6/16 with cell 2 (ties)
    pred[:, 0:3] = 2    # IoU 3/10 with cell 1 only
    iou = iou_matrix(truth, pred)
    assert iou[0, 0] > iou[0, 1] > 0.25
    counts = match(truth, pred, thresholds=(0.25,))[0.25]
    assert (counts.tp, counts.fp, counts.fn) == (2, 0, 0)


def test_pixel_scores_and_summed_counts_over_images():
    truth = box(np.zeros((10, 10), int), 1, 0, 5, 0, 10)
    pred = box(np.zeros((10, 10), int), 4, 0, 10, 0, 5)
    assert pixel_scores(truth, pred) == pytest.approx({"pixel_iou": 25 / 75, "dice": 50 / 100})
    many = box(box(box(np.zeros((10, 10), int), 1, 0, 3, 0, 3), 2, 5, 8, 5, 8), 3, 0, 3, 6, 9)
    scores = segmentation_scores([truth, many], [truth, many.copy()])
    assert scores["objects"][0.5]["tp"] == 4 and scores["objects"][0.5]["f1"] == 1.0
    missed = segmentation_scores([truth, many], [truth, np.zeros_like(many)])
    # counts are summed over images before dividing: 1 of 4 true objects found
    assert missed["objects"][0.5]["recall"] == pytest.approx(1 / 4)
    assert missed["count_mae"] == pytest.approx(1.5) and missed["count_bias"] == pytest.approx(-1.5)


@pytest.mark.parametrize("bad, message", [
    (np.full((4, 4), 0.5), "non-integer labels"),
    (np.zeros((2, 4, 4), int), "2-D label image"),
    (np.full((4, 4), -1), "negative labels"),
    (np.full((4, 4), np.nan), "non-integer labels"),
])
def test_bad_masks_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        check_mask(bad)
    with pytest.raises(ValueError, match="differ in shape"):
        iou_matrix(np.zeros((4, 4), int), np.zeros((4, 5), int))


def test_simulated_masks_have_one_label_per_cell_and_keep_touching_cells_apart():
    touching = 0
    for count in (1, 7, 18, 30):
        for site in (1, 2, 3):
            scene = simulate_scene(count, site)
            mask = instance_mask(scene)
            assert mask.dtype == np.uint16 and n_objects(mask) == count == scene.n_cells
            a, b = mask[:, 1:], mask[:, :-1]
            touching += int(((a != b) & (a > 0) & (b > 0)).any())
            # every cell's label sits on its own centre
            for k, (cy, cx, *_rest) in enumerate(scene.ellipses, start=1):
                assert mask[round(cy), round(cx)] == k
    assert touching >= 6  # BBBC005's clustering makes touching cells common; they stay two labels


def test_simulate_cells_writes_a_mask_per_scene_under_bbbc005_names(tmp_path):
    import json

    import tifffile

    paths = simulate_cells(tmp_path / "cells", counts=[3, 12], sites=2, blurs=[1, 23], size=64)
    truth = sorted((tmp_path / "cells" / GROUND_TRUTH).iterdir())
    assert len(paths) == 8 and len(truth) == 4
    manifest = json.loads((tmp_path / "cells" / "manifest.json").read_text())
    assert sorted(manifest["masks"]) == [f"{GROUND_TRUTH}/{p.name}" for p in truth]
    for path in truth:
        info = parse_bbbc005_name(path.name)
        mask = tifffile.imread(path)
        assert info["blur"] == 1 and mask.dtype == np.uint16 and mask.shape == (64, 64)
        assert n_objects(mask) == info["count"]  # the count in the file name
    assert not (tmp_path / "plain").exists()
    simulate_cells(tmp_path / "plain", counts=[3], sites=1, blurs=[1], size=64, masks=False)
    assert not (tmp_path / "plain" / GROUND_TRUTH).exists()


def test_watershed_finds_in_focus_cells_and_loses_them_under_heavy_blur():
    truths, sharp, blurred = [], [], []
    for count in (5, 15, 25):
        for site in (1, 2):
            scene = simulate_scene(count, site)
            truths.append(instance_mask(scene))
            sharp.append(watershed_instances(render(scene, 1)))
            blurred.append(watershed_instances(render(scene, 48)))
    f1_sharp = segmentation_scores(truths, sharp)["objects"][0.5]["f1"]
    f1_blurred = segmentation_scores(truths, blurred)["objects"][0.5]["f1"]
    assert f1_sharp > 0.75 and f1_blurred < f1_sharp - 0.3
    # against another scene's truth the same predictions score near zero: the metric reads position
    assert segmentation_scores(truths[1:] + truths[:1], sharp)["objects"][0.5]["f1"] < 0.2


def test_images_with_masks_featurize_to_a_dataset_and_bad_masks_are_rejects_with_reasons(tmp_path):
    import tifffile

    from biodl.dataset import featurize_source, load_dataset
    from biodl.sources import read_source
    from tests.test_splits import error

    cells = tmp_path / "cells"
    simulate_cells(cells, counts=[2, 5, 9], sites=2, blurs=[1, 48], size=64)
    truth = cells / GROUND_TRUTH
    # damage three scenes' masks: wrong shape, non-integer labels, unreadable; remove a fourth
    tifffile.imwrite(truth / "SIMCEPImages_A02_C2_F1_s01_w1.TIF", np.zeros((32, 64), np.uint16))
    tifffile.imwrite(truth / "SIMCEPImages_A02_C2_F1_s02_w1.TIF", np.full((64, 64), 0.5, np.float32))
    (truth / "SIMCEPImages_A05_C5_F1_s01_w1.TIF").write_bytes(b"not a tiff")
    (truth / "SIMCEPImages_A05_C5_F1_s02_w1.TIF").unlink()
    source = {"format": "images", "path": str(cells), "labels": "bbbc005", "masks": str(truth)}
    ds = featurize_source(source, {"type": "image", "size": [64, 64]}, tmp_path / "f", progress=False)
    reasons = dict(zip(ds.rejects["id"], ds.rejects["reason"]))
    assert len(ds.X) == 4 and len(reasons) == 8  # both blur levels of each damaged scene
    assert "is 32 x 64 but the featurized image is 64 x 64" in reasons["SIMCEPImages_A02_C2_F48_s01_w1.TIF"]
    assert reasons["SIMCEPImages_A02_C2_F1_s02_w1.TIF"].startswith(
        "mask SIMCEPImages_A02_C2_F1_s02_w1.TIF has non-integer labels")
    assert "unreadable TIFF" in reasons["SIMCEPImages_A05_C5_F1_s01_w1.TIF"]
    assert reasons["SIMCEPImages_A05_C5_F48_s02_w1.TIF"].startswith("no mask for it in ")
    again = load_dataset(tmp_path / "f")
    assert again.masks.shape == (4, 64, 64) and again.manifest["masks"]["objects"] == 2 * 9 * 2
    for i, name in enumerate(again.ids):  # every blur level of a scene reads its scene's mask
        assert n_objects(again.masks[i]) == parse_bbbc005_name(name)["count"]
    assert "mask folder not found" in error(read_source, {**source, "masks": str(tmp_path / "nowhere")})
    resized = featurize_source(source, {"type": "image", "size": [32, 32]}, tmp_path / "r", progress=False)
    # every image now: the four whose masks were good, and the two of the scene whose mask was small
    assert len(resized.X) == 0 and resized.rejects["reason"].str.contains("need no resizing").sum() == 6


def test_overlay_and_count_figures_render_as_png():
    import base64

    from biodl.report.plots import count_parity, segmentation_overlays

    scene = simulate_scene(6, 1, size=64)
    truth = instance_mask(scene)
    uri = segmentation_overlays([("best", render(scene, 1)[None], truth, truth), ("worst", render(scene, 48), truth,
                                                                                 np.zeros_like(truth))])
    png = base64.b64decode(uri.split(",", 1)[1])
    assert uri.startswith("data:image/png;base64,") and png[:8] == b"\x89PNG\r\n\x1a\n"
    uri = count_parity(np.array([1, 5, 9]), [("a", np.array([1, 4, 9])), ("b", np.array([2, 5, 7]))])
    assert base64.b64decode(uri.split(",", 1)[1])[:4] == b"\x89PNG"


def test_label_images_are_read_as_stored_palette_png_included(tmp_path):
    from PIL import Image

    from biodl.featurizers.images import read_label_image

    labels = np.zeros((6, 8), np.uint8)
    labels[1:3, 1:4], labels[4:6, 5:8] = 1, 2
    img = Image.fromarray(labels, mode="P")
    img.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)  # colours are not the labels
    img.save(tmp_path / "m.png")
    np.testing.assert_array_equal(read_label_image(tmp_path / "m.png"), labels)
    Image.fromarray(labels * 100).convert("RGB").save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="2-D label image"):
        check_mask(read_label_image(tmp_path / "rgb.png"))
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        read_label_image(tmp_path / "empty.tif")
