"""The U-Net path of issue 13: pixel targets, tiled prediction without seams, a short training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biodl.instances import segmentation_scores, watershed_instances
from biodl.segmentation import (
    BACKGROUND,
    BOUNDARY,
    INTERIOR,
    UNet,
    fit_unet,
    instances_from_maps,
    pixel_targets,
    predict_full,
    predict_tiled,
    segment,
)
from biodl.simulate import instance_mask, render, simulate_scene


def test_pixel_targets_mark_the_border_between_touching_cells():
    mask = np.zeros((8, 12), int)
    mask[2:6, 1:6], mask[2:6, 6:11] = 1, 2  # two boxes side by side, touching
    t = pixel_targets(mask)
    assert (t[mask == 0] == BACKGROUND).all()
    assert (t[2:6, 5] == BOUNDARY).all() and (t[2:6, 6] == BOUNDARY).all()  # both sides of the seam
    assert (t[3:5, 2:5] == INTERIOR).all() and (t[3:5, 7:10] == INTERIOR).all()
    assert t[2, 3] == BOUNDARY  # next to background


@pytest.mark.parametrize("shape", [(1, 200, 301), (2, 130, 90)])
def test_tiled_prediction_equals_one_pass_over_the_whole_image(shape):
    torch.manual_seed(0)
    net = UNet(shape, 3, depth=3, width=4)
    with torch.no_grad():  # a freshly initialized net barely sees distant pixels: make it see them
        for module in net.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                module.weight.mul_(3.0)
    image = np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8)
    full = predict_full(net, image)
    tiled = predict_tiled(net, image, tile=64, batch_size=3)  # tile grows to fit both margins
    assert tiled.shape == full.shape == (3, *shape[1:])
    np.testing.assert_allclose(tiled, full, atol=1e-4)
    # a margin below the receptive field's reach leaves seams: the default margin is needed
    seams = predict_tiled(net, image, tile=64, margin=8)
    assert np.abs(seams - full).max() > 0.01


def test_instances_from_maps_split_touching_cells_at_their_boundary():
    probs = np.zeros((3, 10, 20), np.float32)
    probs[BACKGROUND] = 1
    for x0 in (2, 10):  # two cells, interior 6 px wide, sharing a boundary column at 9
        probs[:, 2:8, x0:x0 + 7] = np.array([0, 1, 0], np.float32)[:, None, None]
    probs[:, 2:8, 9] = np.array([0, 0.2, 0.8], np.float32)[:, None]
    labels = instances_from_maps(probs, min_size=4)
    assert labels.max() == 2 and len(np.unique(labels[2:8, 2:17])) == 2


def test_a_short_training_run_learns_cells_and_beats_chance():
    def data(counts, site):
        scenes = [simulate_scene(c, site, size=64) for c in counts]
        return (np.stack([render(s, 1)[None] for s in scenes]), [instance_mask(s) for s in scenes])

    x, m = data([3, 6, 9, 12, 15, 18], 1)
    xv, mv = data([5, 10], 2)
    xt, mt = data([4, 8, 14], 3)
    fit = fit_unet(x, m, xv, mv, depth=2, width=8, crop=48, batch_size=8, steps_per_epoch=10, epochs=12,
                   patience=12, seed=0)
    assert fit.history[fit.best_epoch]["valid_loss"] < fit.history[0]["valid_loss"]
    pred = segment(fit, list(xt))
    f1 = segmentation_scores(mt, pred)["objects"][0.5]["f1"]
    assert f1 > 0.5
    # the same network on shuffled truth (another scene's cells) is near zero
    assert segmentation_scores(mt[1:] + mt[:1], pred)["objects"][0.5]["f1"] < 0.2
    assert watershed_instances(xt[0]).shape == pred[0].shape


def test_same_seed_same_network_and_bad_settings_are_named():
    scenes = [simulate_scene(c, 1, size=32) for c in (2, 4, 6)]
    x = np.stack([render(s, 10)[None] for s in scenes])
    m = [instance_mask(s) for s in scenes]
    kwargs = {"depth": 1, "width": 4, "crop": 16, "batch_size": 4, "steps_per_epoch": 3, "epochs": 2,
              "choose_thresholds": False}
    a, b = fit_unet(x, m, x[:1], m[:1], seed=3, **kwargs), fit_unet(x, m, x[:1], m[:1], seed=3, **kwargs)
    for (name, wa), wb in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(wa, wb), name
    assert a.history == b.history
    with pytest.raises(ValueError, match="epochs, steps_per_epoch and patience"):
        fit_unet(x, m, x, m, **{**kwargs, "epochs": 0})
    with pytest.raises(ValueError, match="needs training and validation images"):
        fit_unet(x, m, x[:0], [], **kwargs)


def test_validation_loss_is_the_same_in_one_pass_or_image_by_image(monkeypatch):
    import biodl.segmentation as seg

    scenes = [simulate_scene(c, 1, size=32) for c in (2, 4, 6, 8)]
    x = np.stack([render(s, 10)[None] for s in scenes])
    m = [instance_mask(s) for s in scenes]
    kwargs = {"depth": 1, "width": 4, "crop": 16, "batch_size": 4, "steps_per_epoch": 3, "epochs": 3,
              "choose_thresholds": False, "seed": 1}
    whole = fit_unet(x[:2], m[:2], x[1:], m[1:], **kwargs).history
    monkeypatch.setattr(seg, "VALID_PIXELS", 32 * 32)  # one validation image per forward pass
    piecewise = fit_unet(x[:2], m[:2], x[1:], m[1:], **kwargs).history
    np.testing.assert_allclose([h["valid_loss"] for h in piecewise], [h["valid_loss"] for h in whole], rtol=1e-5)
    assert [h["train_loss"] for h in piecewise] == [h["train_loss"] for h in whole]


def test_a_scaled_unet_learns_at_its_scale_and_answers_at_the_image_size(tmp_path):
    from biodl.segmentation import SegmentationFit, predict_maps, resize_mask

    mask = np.zeros((8, 12), np.int32)
    mask[0:4, 0:6], mask[4:8, 6:12] = 3, 7
    half = resize_mask(mask, (4, 6))
    assert (half == np.array([[3, 3, 3, 0, 0, 0]] * 2 + [[0, 0, 0, 7, 7, 7]] * 2)).all()
    scenes = [simulate_scene(c, s, size=64) for c in (3, 6, 9) for s in (1, 2)]
    x = np.stack([render(s, 1)[None] for s in scenes])
    m = [instance_mask(s) for s in scenes]
    fit = fit_unet(x[:4], m[:4], x[4:], m[4:], depth=2, width=4, crop=16, batch_size=4, steps_per_epoch=2,
                   epochs=2, scale=0.5, seed=0)
    assert fit.net.input_shape == (1, 32, 32) and fit.net.scale == 0.5
    probs = predict_maps(fit.net, x[0])
    assert probs.shape == (3, 64, 64) and np.allclose(probs.sum(axis=0), 1, atol=1e-4)
    fit.save(tmp_path / "m.pt")
    again = SegmentationFit.load(tmp_path / "m.pt")
    assert again.net.scale == 0.5
    masks = segment(again, list(x[4:]))
    assert all(mk.shape == (64, 64) for mk in masks)
    assert all((a == b).all() for a, b in zip(masks, segment(fit, list(x[4:]))))
