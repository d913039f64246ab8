"""Splits for sparse multitask molecule data (issue 11): ``keep_positives`` on the scaffold (and Butina)
split, and the Butina fingerprint-cluster split, on the vendored Tox21 and MUV files.

Meta is built as the molecule featurizers build it (canonical SMILES and Bemis–Murcko scaffold from
:func:`biodl.featurizers.molecules.describe_mol`), labels straight from the CSV with NaN for blanks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biodl import similarity as fp
from biodl.errors import UserError
from biodl.spec import parse_block
from biodl.splits import (
    BUTINA_MAX_MOLECULES,
    PARTS,
    butina_clusters,
    make_split,
    make_splitter,
    scaffold_codes,
)
from tests.test_data_files import MUV_TASKS, TOX21_TASKS
from tests.test_splits import assert_groups_intact, check_partition, error, molecules

DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "molecules"


def molecule_table(smiles, y, ids):
    """(meta, y) as a molecule featurizer writes them; unparsable SMILES are left out."""
    from rdkit import RDLogger

    from biodl.featurizers.molecules import describe_mol, parse_smiles

    RDLogger.DisableLog("rdApp.*")
    rows = []
    for i, smi in enumerate(smiles):
        mol, _ = parse_smiles(smi)
        if mol is not None:
            canonical, scaffold, _ = describe_mol(mol)
            rows.append((i, ids[i], smi, canonical, scaffold))
    meta = pd.DataFrame(rows, columns=["row", "id", "input", "canonical_smiles", "scaffold"])
    return meta, np.asarray(y, np.float32)[meta["row"].to_numpy()]


@pytest.fixture(scope="module")
def tox21():
    """The first 800 Tox21 molecules (none of them unparsable), 12 tasks with NaN gaps."""
    df = pd.read_csv(DATA / "tox21.csv.gz", nrows=800)
    return molecule_table(df["smiles"].tolist(), df[TOX21_TASKS].to_numpy(np.float32), df["mol_id"].tolist())


@pytest.fixture(scope="module")
def muv():
    """A MUV subset with its real sparsity per task (~30 positives in 93k): the first 1,500 rows
    plus every row that is positive for some task, except that MUV-466 keeps only 2 positives."""
    df = pd.read_csv(DATA / "muv.csv.gz")
    y = df[MUV_TASKS].to_numpy(np.float32)
    positive = np.nan_to_num(y) == 1
    rare = MUV_TASKS.index("MUV-466")
    keep = positive.any(axis=1)
    keep[:1500] = True
    keep[np.flatnonzero(positive[:, rare])[2:]] = False
    rows = np.flatnonzero(keep)
    meta, y = molecule_table(df["smiles"].to_numpy()[rows].tolist(), y[rows], df["mol_id"].to_numpy()[rows].tolist())
    assert np.nansum(y[:, rare]) == 2 and (np.nansum(y, axis=0) >= 2).all()
    return meta, y


def lacking(split, y, tasks, parts=PARTS):
    """{(part, task, 'positive' | 'negative')} of the classes that a part holds no label of."""
    out = set()
    for part in parts:
        labels = y[np.asarray(split[part])]
        for j, task in enumerate(tasks):
            for value, name in ((1, "positive"), (0, "negative")):
                if not (labels[:, j] == value).any():
                    out.add((part, task, name))
    return out


def assert_scaffolds_intact(split, meta):
    assert_groups_intact(split, scaffold_codes(meta))
    for part in ("valid", "test"):  # the audit agrees: no valid or test scaffold occurs in train
        assert split["audit"]["molecules"][part]["shared_scaffold"] == 0


# -- keep_positives ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plain_scaffold_split_leaves_tox21_tasks_without_positives_and_keep_positives_mends_them(tox21, seed):
    meta, y = tox21[0].iloc[:500].reset_index(drop=True), tox21[1][:500]
    plain = make_split(meta, y, {"method": "scaffold", "seed": seed}, tasks=TOX21_TASKS)
    missing = lacking(plain, y, TOX21_TASKS, ("valid", "test"))
    assert any(kind == "positive" for _, _, kind in missing), "this subset no longer shows the problem"
    assert "warnings" not in plain and plain["params"]["keep_positives"] is False

    kept = make_split(meta, y, {"method": "scaffold", "seed": seed, "keep_positives": True}, tasks=TOX21_TASKS)
    check_partition(kept, len(meta))
    assert lacking(kept, y, TOX21_TASKS) == set()  # train, valid and test: both classes of all 12 tasks
    assert "warnings" not in kept and kept["params"]["keep_positives"] is True
    assert_scaffolds_intact(kept, meta)
    assert kept["audit"]["duplicated_keys"] == 0
    # sizes stay those of the plain split (within 2 % of N), which are those of the fractions
    for part in PARTS:
        assert abs(kept["sizes"][part] - plain["sizes"][part]) <= 0.02 * len(meta)
        assert abs(kept["sizes"][part] - {"train": 0.8, "valid": 0.1, "test": 0.1}[part] * len(meta)) <= 0.03 * len(meta)
    # few molecules move: the split is still mostly the plain one
    assert len(set(kept["test"]) & set(plain["test"])) >= 0.7 * len(plain["test"])


def test_keep_positives_off_is_the_plain_split_and_on_is_reproducible(tox21):
    meta, y = tox21
    plain = make_split(meta, y, {"method": "scaffold", "seed": 3}, tasks=TOX21_TASKS)
    off = make_split(meta, y, {"method": "scaffold", "seed": 3, "keep_positives": False}, tasks=TOX21_TASKS)
    assert off == plain
    spec = {"method": "scaffold", "seed": 1, "keep_positives": True}
    first = make_split(meta.iloc[:400], y[:400], spec, tasks=TOX21_TASKS)
    assert make_split(meta.iloc[:400], y[:400], spec, tasks=TOX21_TASKS) == first
    other = make_split(meta.iloc[:400], y[:400], {**spec, "seed": 2}, tasks=TOX21_TASKS)
    assert other["test"] != first["test"]


def test_keep_positives_on_sparse_muv_tasks_and_a_warning_for_the_task_it_cannot_mend(muv):
    meta, y = muv
    plain = make_split(meta, y, {"method": "scaffold", "seed": 0}, tasks=MUV_TASKS)
    assert any(kind == "positive" for _, _, kind in lacking(plain, y, MUV_TASKS, ("valid", "test")))
    split = make_split(meta, y, {"method": "scaffold", "seed": 0, "keep_positives": True}, tasks=MUV_TASKS)
    check_partition(split, len(meta))
    assert_scaffolds_intact(split, meta)
    # MUV-466 has 2 positives, so one part lacks them; every other task has both classes everywhere
    missing = lacking(split, y, MUV_TASKS)
    assert missing and {task for _, task, _ in missing} == {"MUV-466"}
    assert {kind for _, _, kind in missing} == {"positive"}
    [warning] = split["warnings"]
    assert warning["code"] == "class_missing" and warning["tasks"] == ["MUV-466"]
    assert "MUV-466" in warning["message"] and "fewer than 3 scaffold groups" in warning["message"]
    assert "\n" not in warning["message"]
    assert sorted(warning["parts"]["MUV-466"]) == sorted(f"{p}: no positive" for p, _, _ in missing)
    for part in PARTS:
        assert abs(split["sizes"][part] - plain["sizes"][part]) <= 0.02 * len(meta)


def test_keep_positives_with_dedupe_and_with_single_task_labels():
    meta = molecules(300, n_scaffolds=40, n_acyclic=60, seed=1)
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.03).astype(np.float32)  # 1-D: one task, about 9 positives
    y[rng.random(300) < 0.2] = np.nan
    meta.loc[[1, 2], "canonical_smiles"] = meta.loc[0, "canonical_smiles"]  # rows 1, 2 are dropped
    split = make_split(meta, y, {"method": "scaffold", "keep_positives": True, "dedupe": True})
    assert split["dropped"] == [1, 2]
    check_partition(split, 300, dropped=split["dropped"])
    if "warnings" not in split:
        assert lacking(split, y[:, None], ["task 0"]) == set()
    else:
        assert split["warnings"][0]["tasks"] == ["task 0"]


@pytest.mark.parametrize("y, message", [
    (None, "split 'scaffold': keep_positives needs the labels y, and the dataset has none; remove keep_positives"),
    (np.linspace(-3, 2, 120, dtype=np.float32)[:, None],
     ("split 'scaffold': keep_positives needs 0/1 class labels, but task 'logS' has the value -3; "
      "remove keep_positives for regression or multiclass targets")),
])
def test_keep_positives_needs_binary_labels(y, message):
    spec = {"method": "scaffold", "keep_positives": True}
    assert error(make_split, molecules(120), y, spec, tasks=["logS"]) == message


def test_keep_positives_and_cutoff_are_checked_in_the_spec_and_the_constructor():
    for data, key in [({"method": "scaffold", "keep_positives": "yes"}, "keep_positives"),
                      ({"method": "butina", "keep_positives": 1}, "keep_positives"),
                      ({"method": "butina", "cutoff": 1.0}, "cutoff"),
                      ({"method": "butina", "cutoff": -0.1}, "cutoff"),
                      ({"method": "butina", "cutoff": "far"}, "cutoff"),
                      ({"method": "random", "keep_positives": True}, "keep_positives")]:
        with pytest.raises(UserError, match=key) as err:
            parse_block("split", data, "--split")
        assert "\n" not in str(err.value)
    assert parse_block("split", {"method": "butina", "cutoff": "4e-1"}, "--split").cutoff == 0.4
    assert parse_block("split", {"method": "butina"}, "--split").dump() == {"method": "butina"}
    assert make_splitter("butina").params == {"fractions": [0.8, 0.1, 0.1], "seed": 0, "cutoff": 0.6,
                                              "keep_positives": False}
    assert error(make_splitter, {"method": "butina", "cutoff": 1}) == (
        "split 'butina': cutoff must be a Tanimoto distance in [0, 1) (0.6: neighbours at similarity >= 0.4), "
        "got 1")
    assert error(make_splitter, {"method": "scaffold", "keep_positives": "yes"}) == (
        "split 'scaffold': keep_positives must be true or false, got 'yes'")


# -- Butina ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cutoff", [0.6, 0.35, 0.75])
def test_butina_clusters_are_rdkits(tox21, cutoff):
    """The neighbour-list implementation gives RDKit's ClusterData clusters, in its order."""
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator
    from rdkit.ML.Cluster import Butina

    smiles = tox21[0]["canonical_smiles"].tolist()[:300]
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=fp.RADIUS, fpSize=fp.N_BITS)
    fps = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    dists = []
    for i in range(1, len(fps)):
        dists.extend(1 - s for s in DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]))
    expected = Butina.ClusterData(dists, len(fps), cutoff, isDistData=True)
    bits, _ = fp.morgan_bits(smiles)
    got = butina_clusters(bits, cutoff, block=64)  # several blocks
    assert [tuple(c.tolist()) for c in got] == [tuple(int(i) for i in c) for c in expected]
    assert any(len(c) > 1 for c in expected) and any(len(c) == 1 for c in expected)


def test_butina_split_keeps_clusters_whole_and_holds_test_further_from_train_than_random(tox21):
    meta, y = tox21
    bits, _ = fp.morgan_bits(meta["canonical_smiles"].tolist())
    clusters = np.empty(len(meta), np.int64)
    for k, members in enumerate(butina_clusters(bits, 0.6)):
        clusters[members] = k
    splits = []
    for seed in range(2):
        split = make_split(meta, y, {"method": "butina", "seed": seed}, tasks=TOX21_TASKS, fingerprints=bits)
        check_partition(split, len(meta))
        assert split["sizes"] == {"train": 640, "valid": 80, "test": 80}
        assert_groups_intact(split, clusters)
        assert split["audit"]["duplicated_keys"] == 0  # identical molecules share a cluster
        assert split["params"] == {"method": "butina", "dedupe": False, "fractions": [0.8, 0.1, 0.1],
                                   "seed": seed, "cutoff": 0.6, "keep_positives": False}
        assert split["audit"]["reading"].startswith("butina split: ")
        # Butina bounds a member's distance to its centroid, not to other clusters' members, so test
        # molecules can have training neighbours within the cutoff; but fewer, and none as close
        random = make_split(meta, y, {"method": "random", "seed": seed})
        sims = {name: fp.max_tanimoto(bits[s["test"]], bits[s["train"]]) for name, s in
                (("butina", split), ("random", random))}
        assert sims["butina"].max() < sims["random"].max()
        assert (sims["butina"] >= 0.4).mean() < 0.6 * (sims["random"] >= 0.4).mean()
        audit = split["audit"]["molecules"]["test"]
        assert audit["max_similarity"]["max"] == round(sims["butina"].max(), 4)
        splits.append(split)
    assert make_split(meta, y, {"method": "butina", "seed": 1}, tasks=TOX21_TASKS) == splits[1]
    assert splits[0]["test"] != splits[1]["test"]


def test_butina_keep_positives_on_tox21(tox21):
    meta, y = tox21[0].iloc[:500].reset_index(drop=True), tox21[1][:500]
    spec = {"method": "butina", "cutoff": 0.5, "seed": 0}
    plain = make_split(meta, y, spec, tasks=TOX21_TASKS)
    kept = make_split(meta, y, {**spec, "keep_positives": True}, tasks=TOX21_TASKS)
    assert lacking(plain, y, TOX21_TASKS) and lacking(kept, y, TOX21_TASKS) == set()
    bits, _ = fp.morgan_bits(meta["canonical_smiles"].tolist())
    clusters = np.empty(len(meta), np.int64)
    for k, members in enumerate(butina_clusters(bits, 0.5)):
        clusters[members] = k
    assert_groups_intact(kept, clusters)
    for part in PARTS:
        assert abs(kept["sizes"][part] - plain["sizes"][part]) <= 0.02 * len(meta)


def test_butina_refuses_more_molecules_than_its_limit_in_one_line():
    n = BUTINA_MAX_MOLECULES + 1
    meta = pd.DataFrame({"canonical_smiles": ["C"] * n, "input": ["C"] * n})
    assert error(make_splitter("butina").split, meta) == (
        f"split 'butina': {n} molecules, more than the {BUTINA_MAX_MOLECULES} it can cluster (it compares every "
        "pair); use method 'scaffold' for a dataset this large")


def test_butina_needs_smiles_and_one_cluster_is_an_empty_part_error():
    assert error(make_splitter("butina").split, pd.DataFrame({"chrom": ["chr1"] * 10})) == (
        "split 'butina': meta has no column 'canonical_smiles' (available: chrom); "
        "Butina splits need a molecule dataset")
    # long alkyl alcohols share every radius-2 environment: one cluster, which cannot fill three parts
    meta = pd.DataFrame({"canonical_smiles": [f"{'C' * (8 + i)}O" for i in range(40)]})
    assert error(make_splitter("butina").split, meta) == (
        "split: the train part is empty (N=40, fractions [0.8, 0.1, 0.1], cutoff 0.6); whole clusters "
        "go to one part: give it a larger fraction, lower the cutoff or use more molecules")
