"""The molecular-graph featurizer and the D-MPNN: the on-disk arrays, batching, the rejects
contract, determinism, invariances, uncertainty and the CUDA path (skipped without CUDA)."""

import json

import numpy as np
import pytest
import torch

from biodl.dataset import featurize_source, load_dataset
from biodl.errors import UserError
from biodl.featurizers import make_featurizer
from biodl.graphs import ATOM_VOCAB, BOND_VOCAB, MolGraphs
from tests.conftest import DATA

FREESOLV = {"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles", "id": "id",
            "targets": ["expt"]}
SMALL = {"type": "mpnn", "hidden": 32, "depth": 2, "ffn_hidden": [16], "dropout": 0.1}
DESCRIPTORS = ["MolWt", "MolLogP", "TPSA"]


@pytest.fixture(scope="module")
def freesolv(tmp_path_factory):
    from biodl.stages.split import split_dataset

    tmp = tmp_path_factory.mktemp("graphs")
    featurize_source(FREESOLV, {"type": "molgraph", "mol_features": "rdkit", "descriptors": DESCRIPTORS},
                     tmp / "features")
    split_dataset(tmp / "features", {"method": "random"}, tmp / "split.json", seed=1)
    return tmp


# -- featurizer and arrays ---------------------------------------------------------------------------
def test_codes_offsets_and_rejects_with_reasons():
    result = make_featurizer("molgraph").featurize(["CCO", "not a smiles", "c1ccccc1", "[Na+].[Cl-]", "C1CC",
                                                    "[Cu]"])
    g = result.X
    assert result.kept.tolist() == [0, 2, 3, 5]
    assert [(r.index, r.reason) for r in result.rejects] == [(1, "invalid SMILES syntax"),
                                                           (4, "invalid SMILES syntax")]
    assert g.index.tolist() == [[0, 3, 0, 2], [3, 6, 2, 6], [9, 2, 8, 0], [11, 1, 8, 0]]
    assert g.atoms.shape == (12, len(ATOM_VOCAB)) and g.bonds.shape == (8, len(BOND_VOCAB))
    assert g.atoms[:3, 0].tolist() == [6, 6, 8] and g.atoms[11, 0] == 29  # atomic numbers
    assert g.atoms[3:9, 6].tolist() == [1] * 6 and g.bonds[2:8, 0].tolist() == [3] * 6  # aromatic ring
    assert g.atoms[9:11, 2].tolist() == [3, 1]  # formal charges +1 and -1 (stored + 2)
    assert (g.edges[:2] == [[0, 1], [1, 2]]).all()  # numbered within the molecule
    assert result.meta["n_atoms"] == [3, 6, 2, 1] and result.meta["scaffold"][1] == "c1ccccc1"


def test_workers_give_the_same_arrays_as_one_process():
    smiles = [line.split(",")[1] for line in (DATA / "molecules" / "freesolv.csv").read_text().splitlines()[1:300]]
    one = make_featurizer({"type": "molgraph"}, n_jobs=1).featurize(smiles)
    two = make_featurizer({"type": "molgraph"}, n_jobs=2).featurize(smiles)
    for name in ("index", "atoms", "bonds", "edges"):
        assert np.array_equal(getattr(one.X, name), getattr(two.X, name)), name


def test_a_subset_equals_featurizing_the_subset(freesolv):
    ds = load_dataset(freesolv / "features")
    assert isinstance(ds.X.atoms, np.memmap) and ds.X.shape == (len(ds), 8, 4, 3)
    rows = np.array([40, 3, 17, 3])
    sub = ds.X[rows]
    direct = make_featurizer({"type": "molgraph", "mol_features": "rdkit", "descriptors": DESCRIPTORS}).featurize(
        ds.meta["input"].iloc[rows].tolist()).X
    for name in ("index", "atoms", "bonds", "edges", "mol_features"):
        np.testing.assert_array_equal(getattr(sub, name), getattr(direct, name), err_msg=name)
    assert len(ds.X[np.arange(len(ds)) < 5]) == 5 and len(ds.X[2:9]) == 7


def test_a_batch_on_the_device_equals_the_subset_moved_there(freesolv):
    g = load_dataset(freesolv / "features").X
    rows = np.array([9, 0, 31, 5])
    batch = g.to_tensors("cpu")[torch.from_numpy(rows)]
    moved = g[rows].to_tensors("cpu")
    for name in ("index", "atoms", "bonds", "edges", "mol_features"):
        assert torch.equal(getattr(batch, name), getattr(moved, name)), name
    source, target, bond, atom_molecule = batch.directed()
    assert len(source) == 2 * len(batch.bonds) and torch.equal(source[0::2], target[1::2])
    assert torch.equal(atom_molecule[source], atom_molecule[target])  # edges stay inside their molecule


@pytest.mark.parametrize("victim, message", [("graph_bonds.npy", "without graph_bonds.npy"),
                                             ("graph_atoms.npy", "not a readable NumPy array")])
def test_a_damaged_graph_file_is_one_line(tmp_path, victim, message):
    featurize_source({**FREESOLV}, "molgraph", tmp_path / "f", progress=False)
    path = tmp_path / "f" / victim
    if "without" in message:
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(UserError, match=message):
        load_dataset(tmp_path / "f")


def test_index_and_arrays_that_disagree_are_refused():
    g = make_featurizer("molgraph").featurize(["CCO", "CCN"]).X
    with pytest.raises(ValueError, match="the index covers 6 atoms and 4 bonds, the arrays hold 5"):
        MolGraphs(g.index, g.atoms[:5], g.bonds, g.edges).check("x")


# -- the model -------------------------------------------------------------------------------------------
def _fit(freesolv, spec=SMALL, seed=0, **train):
    from biodl.train import fit

    ds = load_dataset(freesolv / "features", mmap=False)
    split = json.loads((freesolv / "split.json").read_text())
    pos = {p: np.asarray(split[p]) for p in ("train", "valid", "test")}
    model, history = fit(spec, ds.X[pos["train"]], ds.y[pos["train"]], ds.X[pos["valid"]], ds.y[pos["valid"]],
                         task_type="regression", tasks=["expt"],
                         config={"epochs": 8, "batch_size": 32, "patience": 8, "seed": seed, "progress": False,
                                 **train})
    return model, history, ds, pos


def test_learns_and_same_seed_same_numbers(freesolv):
    a, history, ds, pos = _fit(freesolv)
    b, _, _, _ = _fit(freesolv)
    c, _, _, _ = _fit(freesolv, seed=1)
    X = ds.X[pos["test"]]
    assert np.array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.predict(X), c.predict(X))
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    rmse = np.sqrt(np.mean((a.predict(X)[:, 0] - ds.y[pos["test"], 0]) ** 2))
    assert rmse < np.std(ds.y[pos["test"], 0])  # better than predicting the mean


def test_invariant_to_atom_order_and_to_the_batch(freesolv):
    from biodl.graphs import to_model_input

    model, _, ds, _ = _fit(freesolv, spec={**SMALL, "dropout": 0.0}, epochs=2)
    featurizer = make_featurizer({"type": "molgraph", "mol_features": "rdkit", "descriptors": DESCRIPTORS})
    # one molecule written from two ends, and a different batch around it
    g = featurizer.featurize(["OCC(=O)Nc1ccccc1Cl", "Clc1ccccc1NC(=O)CO", "CCCC", "c1ccncc1"]).X
    assert not np.array_equal(g.atoms[:g.index[0, 1]], g.atoms[g.index[1, 0]:g.index[1, 0] + g.index[1, 1]])
    out = model.raw_outputs(g)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5, atol=1e-6)
    alone = model.module(to_model_input(model.preprocessor.transform_X(g[[0]]), "cpu")).detach().numpy()
    np.testing.assert_allclose(alone[0], out[0], rtol=1e-5, atol=1e-6)


def test_save_load_and_predict_stage(freesolv, tmp_path):
    from biodl.stages.predict import predict_experiment
    from biodl.stages.train import train_experiment
    from biodl.train import TrainedModel

    exp = {"dataset": "fs", "featurizer": "g", "split": "random", "task": "regression", "model": SMALL,
           "train": {"epochs": 4, "batch_size": 32, "progress": False},
           "uncertainty": {"method": "ensemble", "members": 2, "heteroscedastic": True}}
    manifest = train_experiment("g", exp, freesolv / "features", freesolv / "split.json", tmp_path / "m", seed=0)
    assert manifest["model_spec"]["type"] == "mpnn" and manifest["ensemble"]["members"] == 2
    model = TrainedModel.load(tmp_path / "m" / "model.pt")
    assert model.input_shape == (8, 4, 3) and model.loss == "gaussian_nll"
    assert model.domain is not None  # a molecule model keeps its training domain
    predict_experiment("g", tmp_path / "m" / "model.pt", freesolv / "features", freesolv / "split.json",
                       tmp_path / "p.parquet")
    import pandas as pd

    table = pd.read_parquet(tmp_path / "p.parquet")
    assert set(table["split"]) == {"train", "valid", "test"} and table["y_std"].gt(0).all()
    assert table["max_tanimoto"].notna().all()


def test_mc_dropout_is_seeded_on_graphs(freesolv):
    from biodl.uncertainty import UncertaintySpec, sample_outputs

    model, _, ds, pos = _fit(freesolv, epochs=2)
    X = ds.X[pos["test"][:20]]
    spec = UncertaintySpec.from_dict({"method": "mc_dropout", "passes": 4})
    a, b = sample_outputs(model, X, spec, seed=3), sample_outputs(model, X, spec, seed=3)
    assert a.shape == (4, 20, 1) and np.array_equal(a, b) and not np.array_equal(a[0], a[1])


def test_model_checks_its_input_and_parameters():
    from biodl.models import build_model

    with pytest.raises(UserError, match="needs molgraph features with 8 atom and 4 bond"):
        build_model({"type": "mpnn"}, input_shape=(9, 4, 0), n_outputs=1)
    with pytest.raises(UserError, match="aggregation must be one of mean, sum, norm"):
        build_model({"type": "mpnn", "aggregation": "max"}, input_shape=(8, 4, 0), n_outputs=1)
    with pytest.raises(UserError, match="did you mean 'depth'"):
        build_model({"type": "mpnn", "dept": 3}, input_shape=(8, 4, 0), n_outputs=1)


def test_spec_pairs_the_graph_model_with_graph_features():
    from biodl.spec import parse_config as check_config

    base = {"featurizers": {"g": {"type": "molgraph"}, "e": {"type": "ecfp"}},
            "datasets": {"fs": {"source": FREESOLV, "featurizers": ["g", "e"],
                                "splits": {"random": {"method": "random"}}}}}
    exp = {"dataset": "fs", "featurizer": "e", "split": "random", "model": {"type": "mpnn"}}
    with pytest.raises(UserError, match="model 'mpnn' reads graph features; featurizer 'e' gives vector"):
        check_config({**base, "experiments": {"x": exp}})
    exp = {**exp, "featurizer": "g", "baseline": {"type": "random_forest"}}
    with pytest.raises(UserError, match="baselines read vectors or images, and 'g' gives molecular graphs"):
        check_config({**base, "experiments": {"x": exp}})
    check_config({**base, "experiments": {"x": {**exp, "baseline": {"type": "random_forest", "featurizer": "e"}}}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (the CPU path is tested above)")
def test_the_gpu_path_trains_and_matches_cpu_predictions(freesolv):
    model, _, ds, pos = _fit(freesolv, device="cuda", epochs=3)
    assert next(model.module.parameters()).device.type == "cuda"
    X = ds.X[pos["test"]]
    on_gpu = model.predict(X)
    model.module.to("cpu")
    np.testing.assert_allclose(model.predict(X), on_gpu, rtol=1e-4, atol=1e-4)


def test_predict_from_raw_smiles_keeps_rejects_keyed_by_id(freesolv, tmp_path, write):
    from biodl.stages.predict import predict_raw

    model, _, ds, _ = _fit(freesolv, epochs=2)
    model.featurizer_spec = ds.manifest["featurizer"]
    model.save(tmp_path / "model.pt")
    new = write("new.csv", "id,smiles\nq1,CCO\nq2,C1CC\nq3,\nq4,c1ccccc1\n")
    frame = predict_raw(tmp_path / "model.pt", {"format": "csv", "path": str(new), "id": "id"}, tmp_path / "p.csv")
    assert frame["expt_pred"].notna().tolist() == [True, False, False, True]
    assert frame["reject_reason"].tolist()[1:3] == ["invalid SMILES syntax", "missing SMILES"]
    expected = model.predict(make_featurizer(model.featurizer_spec).featurize(["CCO", "c1ccccc1"]).X)
    np.testing.assert_allclose(frame["expt_pred"].dropna().to_numpy(), expected[:, 0], rtol=1e-6)
