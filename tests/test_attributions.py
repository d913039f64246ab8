"""Attributions of molecule and image models, sequence evolution, and the interpret stage (issue 14).

The molecule target: when the label is made from one substructure (has a sulfonamide), that
substructure's atoms carry the top attribution in at least 90 % of the test positives — for the ECFP
MLP (bit occlusion mapped to atoms) and the D-MPNN (integrated gradients over atom gates); the same
models trained on shuffled labels must fail it (negative control).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from biodl.interpret import optimize_sequence
from biodl.interpret.images import occlusion_map, saliency_map
from biodl.interpret.molecules import (
    atom_weights_from_bits,
    bit_environments,
    bit_occlusion,
    draw_atom_map,
    graph_atom_attributions,
)
from tests.conftest import ROOT

SULFONAMIDE = "S(=O)(=O)N"


# -- molecules: the building blocks --------------------------------------------------------------
def test_bit_occlusion_equals_clearing_each_bit_one_by_one():
    rng = np.random.default_rng(0)
    X = (rng.random((7, 40)) < 0.3).astype(np.uint8)
    w = rng.normal(size=40)

    def output(rows):  # nonlinear, so an error in which row a change lands would show
        return np.tanh(rows.astype(np.float64) @ w) + 0.1 * rows.sum(axis=1)

    got = bit_occlusion(output, X, batch_size=5)  # batches cut across molecules
    for i in range(len(X)):
        for d in range(X.shape[1]):
            if X[i, d]:
                cleared = X[i].copy()
                cleared[d] = 0
                assert got[i, d] == pytest.approx(output(X[i:i + 1])[0] - output(cleared[None])[0], abs=1e-6)
            else:
                assert got[i, d] == 0


def test_atom_weights_add_up_to_the_bit_weights_and_follow_the_environments():
    from rdkit import Chem

    mol = Chem.MolFromSmiles("CS(=O)(=O)Nc1ccccc1")
    envs = bit_environments(mol, radius=2, n_bits=2048)
    rng = np.random.default_rng(1)
    bits = np.zeros(2048)
    bits[list(envs)] = rng.normal(size=len(envs))
    weights = atom_weights_from_bits(mol, bits, radius=2, n_bits=2048)
    assert weights.sum() == pytest.approx(bits.sum())
    # one bit alone: its weight lands on its environment's atoms only
    bit = next(b for b, e in envs.items() if len(e) == 1 and len(e[0]) > 1)
    alone = np.zeros(2048)
    alone[bit] = 1.0
    weights = atom_weights_from_bits(mol, alone, radius=2, n_bits=2048)
    assert set(np.flatnonzero(weights)) == set(envs[bit][0])
    assert np.allclose(weights[envs[bit][0]], 1 / len(envs[bit][0]))
    with pytest.raises(ValueError, match="bit_weights"):
        atom_weights_from_bits(mol, np.zeros(10), n_bits=2048)


def test_atom_map_is_a_png_and_checks_its_weights():
    from rdkit import Chem

    mol = Chem.MolFromSmiles("CCO")
    assert draw_atom_map(mol, [0.5, 0.0, -1.0])[:4] == b"\x89PNG"
    assert draw_atom_map(mol, [0.0, 0.0, 0.0])[:4] == b"\x89PNG"  # nothing to shade: still a drawing
    assert draw_atom_map(Chem.MolFromSmiles("C"), [1.0])[:4] == b"\x89PNG"  # one atom: RDKit's map needs two
    with pytest.raises(ValueError, match="weights"):
        draw_atom_map(mol, [1.0])


# -- molecules: the sulfonamide target -----------------------------------------------------------
@pytest.fixture(scope="module")
def sulfonamide_data():
    """Tox21's molecules (real) with label = has a sulfonamide: every positive (263) and 1,500
    seeded random negatives; 80 / 10 / 10 random split."""
    import pandas as pd
    from rdkit import Chem, RDLogger

    from biodl.featurizers import make_featurizer

    RDLogger.DisableLog("rdApp.*")
    smiles = pd.read_csv(ROOT / "data" / "molecules" / "tox21.csv.gz")["smiles"].tolist()
    pattern = Chem.MolFromSmarts(SULFONAMIDE)
    parsed = [Chem.MolFromSmiles(s) for s in smiles]
    positive = [i for i, m in enumerate(parsed) if m is not None and m.HasSubstructMatch(pattern)]
    negative = [i for i, m in enumerate(parsed) if m is not None and not m.HasSubstructMatch(pattern)]
    chosen = sorted(positive + list(np.random.default_rng(0).choice(negative, 1500, replace=False)))
    smiles = [smiles[i] for i in chosen]
    ecfp = make_featurizer({"type": "ecfp", "radius": 2, "n_bits": 2048}).featurize(smiles, meta=False)
    graphs = make_featurizer({"type": "molgraph"}).featurize(smiles, meta=False)
    kept = np.intersect1d(ecfp.kept, graphs.kept)
    mols = [Chem.MolFromSmiles(smiles[k]) for k in kept]
    y = np.array([[m.HasSubstructMatch(pattern)] for m in mols], np.float32)
    X_ecfp = ecfp.X[np.searchsorted(ecfp.kept, kept)]
    X_graph = graphs.X[np.searchsorted(graphs.kept, kept)]
    order = np.random.default_rng(0).permutation(len(kept))
    n = len(order)
    parts = order[:int(0.8 * n)], order[int(0.8 * n):int(0.9 * n)], order[int(0.9 * n):]
    sites = [{a for match in m.GetSubstructMatches(pattern) for a in match} for m in mols]
    return {"mols": mols, "y": y, "ecfp": X_ecfp, "graph": X_graph, "parts": parts, "sites": sites}


def _fit(model_spec, X, data, shuffle: bool, epochs: int):
    from biodl.train import TrainConfig, fit

    train, valid, _ = data["parts"]
    y = data["y"]
    if shuffle:  # the negative control: same molecules, labels that follow no substructure
        y = y[np.random.default_rng(1).permutation(len(y))]
    model, _ = fit(model_spec, X[train], y[train], X[valid], y[valid], task_type="binary", tasks=["sulfonamide"],
                   config=TrainConfig.from_dict({"epochs": epochs, "batch_size": 64, "lr": 0.001, "patience": 5,
                                                 "seed": 0, "progress": False}))
    return model


def _top_atom_hits(weights, positives, data) -> float:
    hits = [int(np.argmax(w)) in data["sites"][i] for w, i in zip(weights, positives)]
    return float(np.mean(hits))


def _ecfp_hits(data, shuffle: bool) -> float:
    model = _fit({"type": "mlp", "hidden": [256], "dropout": 0.2}, data["ecfp"], data, shuffle, epochs=30)
    positives = [i for i in data["parts"][2] if data["y"][i, 0] == 1]
    bits = bit_occlusion(lambda rows: model.raw_outputs(rows)[:, 0], data["ecfp"][positives])
    weights = [atom_weights_from_bits(data["mols"][i], bits[k]) for k, i in enumerate(positives)]
    return _top_atom_hits(weights, positives, data)


def _graph_hits(data, shuffle: bool) -> float:
    from biodl.graphs import to_model_input

    model = _fit({"type": "mpnn", "hidden": 64, "depth": 3, "ffn_hidden": [64]}, data["graph"], data, shuffle,
                 epochs=15)
    positives = np.array([i for i in data["parts"][2] if data["y"][i, 0] == 1])
    graphs = to_model_input(model.preprocessor.transform_X(data["graph"][positives]), "cpu")
    weights, _ = graph_atom_attributions(model.module, graphs)
    for k, i in enumerate(positives):
        assert len(weights[k]) == data["mols"][i].GetNumAtoms()  # graph atoms are RDKit's atoms, in order
    return _top_atom_hits(weights, positives, data)


@pytest.mark.slow
def test_sulfonamide_atoms_carry_the_top_ecfp_attribution_and_not_after_shuffled_labels(sulfonamide_data):
    n_pos = sum(sulfonamide_data["y"][i, 0] for i in sulfonamide_data["parts"][2])
    assert n_pos >= 20  # enough test positives for a share to mean something
    assert _ecfp_hits(sulfonamide_data, shuffle=False) >= 0.9
    assert _ecfp_hits(sulfonamide_data, shuffle=True) < 0.9


@pytest.mark.slow
def test_sulfonamide_atoms_carry_the_top_graph_attribution_and_not_after_shuffled_labels(sulfonamide_data):
    assert _graph_hits(sulfonamide_data, shuffle=False) >= 0.9
    assert _graph_hits(sulfonamide_data, shuffle=True) < 0.9


def test_graph_integrated_gradients_add_up_to_the_change_of_output():
    from biodl.featurizers import make_featurizer
    from biodl.graphs import to_model_input
    from biodl.models import build_model

    smiles = ["CCO", "c1ccccc1O", "CS(=O)(=O)N", "CC(=O)Nc1ccc(O)cc1", "C"]
    X = make_featurizer({"type": "molgraph"}).featurize(smiles, meta=False).X
    torch.manual_seed(0)
    net = build_model({"type": "mpnn", "hidden": 16, "depth": 2, "ffn_hidden": [8]}, input_shape=X.shape[1:],
                      n_outputs=2).eval()
    g = to_model_input(X, "cpu")
    coarse = graph_atom_attributions(net, g, task=1, steps=4)[1]
    weights, fine = graph_atom_attributions(net, g, task=1, steps=128, batch_size=2)
    assert [len(w) for w in weights] == [3, 7, 5, 11, 1]
    assert np.abs(fine).max() < 2e-3 and np.abs(fine).max() <= np.abs(coarse).max()
    with pytest.raises(ValueError, match="D-MPNN"):
        graph_atom_attributions(torch.nn.Linear(2, 2), g)


# -- images -------------------------------------------------------------------------------------
def test_occlusion_and_saliency_point_at_the_region_the_output_reads():
    """A 'model' that sums the pixels of one square: occlusion drops only where a patch overlaps
    it, saliency is 1 inside and 0 outside."""
    def output(x):
        return x[:, :, 8:16, 20:28].sum(dim=(1, 2, 3))

    images = np.random.default_rng(0).random((2, 1, 32, 40)).astype(np.float32) + 0.1
    sal = saliency_map(output, images)
    inside = np.zeros((32, 40), bool)
    inside[8:16, 20:28] = True
    assert np.all(sal[:, inside] == 1) and np.all(sal[:, ~inside] == 0)
    occ = occlusion_map(output, images, window=4, stride=4)
    assert np.all(occ[:, inside] > 0) and np.all(occ[:, ~inside] == 0)
    # a 4 x 4 patch inside removes its 16 pixels: the map is their sum / the one patch covering it
    assert occ[0, 8, 20] == pytest.approx(images[0, 0, 8:12, 20:24].sum(), rel=1e-5)
    with pytest.raises(ValueError, match="stride"):
        occlusion_map(output, images, window=4, stride=8)


# -- sequence evolution -------------------------------------------------------------------------
class _Site(torch.nn.Module):
    """Scores the best match to TGACTCA anywhere in the sequence (a scanner of one site)."""

    def __init__(self):
        super().__init__()
        site = torch.tensor(["ACGT".index(c) for c in "TGACTCA"])
        self.register_buffer("pwm", torch.nn.functional.one_hot(site, 4).T.float()[None])

    def forward(self, codes):
        x = torch.nn.functional.one_hot(codes.long().clamp(max=3), 4).float().transpose(1, 2)
        return torch.nn.functional.conv1d(x, self.pwm).amax(dim=2)


def test_greedy_evolution_builds_the_site_the_model_scores():
    codes = np.random.default_rng(0).integers(0, 4, (6, 40)).astype(np.uint8)
    run = optimize_sequence(_Site(), codes, steps=8)
    assert np.all(np.diff(run["scores"], axis=1) >= 0)  # a greedy step never lowers the output
    assert np.all(run["scores"][:, -1] == 7)  # the full site: 7 matching bases
    assert all("TGACTCA" in "".join("ACGT"[c] for c in seq) for seq in run["codes"])
    # a sequence stops once no substitution helps: fewer than 8 changes made, the rest marked -1
    assert np.all((run["changes"][..., 0] >= 0).sum(axis=1) <= 7)
    lowered = optimize_sequence(_Site(), run["codes"], steps=3, direction=-1)
    assert np.all(lowered["scores"][:, -1] < 7)
    with pytest.raises(ValueError, match="direction"):
        optimize_sequence(_Site(), codes, direction=2)


# -- the stage through the CLI ------------------------------------------------------------------
def test_interpret_command_on_a_molecule_model_and_its_report_section(tmp_path, monkeypatch, capsys):
    """featurize → split → train → interpret → report, on FreeSolv with ECFP: the folder holds the
    arrays, table and molecule maps; a bad block or part is one line, exit code 2."""
    data = ROOT / "data" / "molecules" / "freesolv.csv"
    steps = [
        ["featurize", str(data), "--input-col", "smiles", "--id-col", "id", "--targets", "expt",
         "--featurizer", '{"type": "ecfp", "radius": 2, "n_bits": 256}', "-o", "fs"],
        ["split", "--features", "fs", "--spec", '{"method": "random"}', "-o", "split.json"],
        ["train", "--name", "fs", "--features", "fs", "--split", "split.json", "--experiment",
         json.dumps({"task": "regression", "model": {"type": "mlp", "hidden": [32]},
                     "train": {"epochs": 5, "progress": False}}), "--progress", "0", "-o", "model"],
        ["interpret", "--model", "model/model.pt", "--features", "fs", "--split", "split.json",
         "--interpret", '{"items": 12, "draw": 1}', "-o", "attr"],
    ]
    from biodl.cli import main

    monkeypatch.chdir(tmp_path)  # in this process: a subprocess per command would import torch each time
    for step in steps:
        assert main(step) == 0, (step[0], capsys.readouterr().err[-2000:])
    summary = json.loads((tmp_path / "attr" / "summary.json").read_text())
    assert summary["method"] == "occlusion" and summary["kind"] == "ecfp"
    assert [g["name"] for g in summary["groups"]] == ["highest", "lowest", "errors"]
    arrays = np.load(tmp_path / "attr" / "attributions.npz")
    assert arrays["atom_offsets"][-1] == len(arrays["atom_weights"]) and len(arrays["ids"]) == summary["n_items"]
    import pandas as pd

    table = pd.read_csv(tmp_path / "attr" / "top_features.csv")
    assert set(table["group"]) == {"highest", "lowest", "errors"} and table["top_atoms"].str.len().min() > 0
    # highest-first: the group's outputs are in order
    highest = table[table["group"] == "highest"]["output"].to_numpy()
    assert np.all(np.diff(highest) <= 0)
    assert len(summary["figures"]) == 3
    for bad, says in ((['{"itemz": 3}'], "itemz"), (['{"part": "nowhere"}'], "nowhere"),
                      (['{"method": "ism"}'], "ism")):
        capsys.readouterr()
        code = main(["interpret", "--model", "model/model.pt", "--features", "fs", "--split", "split.json",
                     "--interpret", *bad, "-o", "bad"])
        err = capsys.readouterr().err
        assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "bad").exists()


def test_items_are_the_ranked_ends_of_each_class_or_of_an_unlabelled_part():
    """A classifier's groups: true positives it ranks highest, true negatives it ranks lowest; a part
    without labels (a user's test set) falls back to the highest and lowest outputs."""
    from types import SimpleNamespace

    from biodl.stages.interpret import _groups

    outputs = np.array([0.5, 3.0, -2.0, 1.0, -1.0, 2.0])
    labels = np.array([1, 1, 0, 0, 0, 1], np.float64)

    class Stub:
        regression, task_name = False, "active"

        def __call__(self, X):
            return outputs[np.asarray(X)]

        def labels(self, ds, idx):
            return ds.y[idx]

    ds = SimpleNamespace(X=np.arange(6), y=labels)
    groups, _, _ = _groups(Stub(), ds, np.arange(6), 2, errors=True)
    by_name = {g["name"]: g for g in groups}
    assert by_name["positives"]["rows"] == [1, 5] and by_name["positives"]["sign"] == 1
    assert by_name["negatives"]["rows"] == [2, 4] and by_name["negatives"]["sign"] == -1
    assert by_name["errors"]["rows"][0] == 3  # label 0 scored at p = 0.73: the largest |p − y|
    ds.y = np.full(6, np.nan)
    groups, _, _ = _groups(Stub(), ds, np.arange(6), 2, errors=True)
    assert [(g["name"], g["rows"]) for g in groups] == [("highest", [1, 5]), ("lowest", [2, 4])]


def test_unet_area_output_reads_any_image_size_and_gives_maps_of_it():
    """A U-Net's predicted cell area (its input padded to the pooling multiple inside): saliency and
    occlusion maps come back at the image's own size, and the area is the summed cell probability."""
    from biodl.interpret.images import unet_area_output
    from biodl.models import build_model

    torch.manual_seed(0)
    net = build_model({"type": "unet", "depth": 2, "width": 4}, input_shape=(1, 32, 32), n_outputs=3).eval()
    images = np.random.default_rng(0).random((2, 1, 30, 37)).astype(np.float32)  # not a multiple of 4
    area = unet_area_output(net)
    with torch.no_grad():
        value = area(torch.from_numpy(images)).numpy()
        padded = torch.nn.functional.pad(torch.from_numpy(images), (0, 3, 0, 2), mode="reflect")
        probs = torch.softmax(net(padded), 1)[:, 1:, :30, :37].sum(dim=(1, 2, 3)).numpy()
    assert np.allclose(value, probs) and np.all((value > 0) & (value < 30 * 37))
    assert saliency_map(area, images).shape == (2, 30, 37)
    assert occlusion_map(area, images, window=8, stride=4).shape == (2, 30, 37)
