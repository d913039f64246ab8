import json

import numpy as np
import pandas as pd
import pytest

from biodl.errors import UserError
from biodl.splits import (
    PARTS,
    SPLITTERS,
    Splitter,
    canonical_keys,
    first_of_each,
    leakage_audit,
    load_split,
    make_split,
    make_splitter,
    part_sizes,
    register_splitter,
    save_split,
)
from tests.conftest import DATA


def molecules(n=200, n_scaffolds=20, n_acyclic=40, seed=0):
    """Synthetic molecule meta: scaffold groups of uneven size plus acyclic rows ('' scaffold)."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(n_scaffolds) * 0.5)
    scaffolds = [f"S{k}" for k in rng.choice(n_scaffolds, n - n_acyclic, p=weights)] + [""] * n_acyclic
    smiles = [f"C{'C' * i}O" for i in range(n)]
    return pd.DataFrame({"row": np.arange(n), "id": [f"m{i}" for i in range(n)], "input": smiles,
                         "canonical_smiles": smiles, "scaffold": scaffolds})


def sequences(n=300, n_chrom=10):
    """Synthetic DNA meta: distinct sequences, chromosomes round robin, scenes of 6 rows."""
    bases = str.maketrans("0123", "ACGT")
    return pd.DataFrame({
        "row": np.arange(n),
        "id": [f"r{i}" for i in range(n)],
        "input": [np.base_repr(i, 4).translate(bases) for i in range(n)],
        "chrom": [f"chr{i % n_chrom + 1}" for i in range(n)],
        "scene": [f"C{i // 6}_s{i % 3}" for i in range(n)],
    })


def error(call, *args, **kwargs) -> str:
    """The message of the UserError that ``call`` raises; it must be one line."""
    with pytest.raises(UserError) as err:
        call(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message
    return message


def check_partition(parts, n, dropped=()):
    """Sorted, disjoint, non-empty parts covering every row not dropped."""
    for p in PARTS:
        idx = np.asarray(parts[p])
        assert len(idx) > 0
        assert np.all(np.diff(idx) > 0)
        if isinstance(parts[p], np.ndarray):
            assert idx.dtype == np.int64
    everything = np.concatenate([np.asarray(parts[p]) for p in PARTS] + [np.asarray(dropped, np.int64)])
    assert np.array_equal(np.sort(everything), np.arange(n))


def part_of(parts, n):
    out = np.full(n, -1)
    for k, p in enumerate(PARTS):
        out[np.asarray(parts[p])] = k
    return out


def assert_groups_intact(parts, groups):
    groups = np.asarray(groups)
    label = part_of(parts, len(groups))
    for g in np.unique(groups):
        assert len(np.unique(label[groups == g])) == 1, f"group {g} straddles parts"


# -- registry and sizes -------------------------------------------------------------------------
def test_registry_has_every_method_and_refuses_a_second_class_under_one_name():
    assert set(SPLITTERS) >= {"random", "scaffold", "stratified", "group", "chromosome", "kfold"}
    assert all(issubclass(cls, Splitter) for cls in SPLITTERS.values())

    class Clash(Splitter):
        name = "random"

    with pytest.raises(ValueError, match="registered twice"):
        register_splitter(Clash)


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.7, 0.15, 0.15), (1 / 3, 1 / 3, 1 / 3),
                                       (0.5, 0.5, 0)])
def test_part_sizes_sum_to_n_and_stay_within_one_row_of_the_fractions(fractions):
    for n in range(0, 500):
        sizes = part_sizes(n, fractions)
        assert sizes.sum() == n
        assert np.all(np.abs(sizes - np.asarray(fractions) * n) < 1)
    assert part_sizes(10, (0.8, 0.1, 0.1)).tolist() == [8, 1, 1]
    assert part_sizes(642, (0.8, 0.1, 0.1)).tolist() == [514, 64, 64]


# -- methods ------------------------------------------------------------------------------------
def test_random_split_partition_sizes_and_seeds():
    meta = molecules(100)
    parts = make_splitter({"method": "random", "seed": 3}).split(meta)
    check_partition(parts, 100)
    assert [len(parts[p]) for p in PARTS] == [80, 10, 10]
    again = make_splitter({"method": "random", "seed": 3}).split(meta)
    assert all(np.array_equal(parts[p], again[p]) for p in PARTS)
    other = make_splitter({"method": "random", "seed": 4}).split(meta)
    assert not np.array_equal(parts["test"], other["test"])


def test_scaffold_split_keeps_scaffolds_whole_and_treats_acyclic_molecules_singly():
    meta = molecules(300, n_scaffolds=25, n_acyclic=60)
    cyclic = (meta["scaffold"] != "").to_numpy()
    splits = [make_split(meta, None, {"method": "scaffold", "seed": s}) for s in range(4)]
    for split in splits:
        check_partition(split, 300)
        label = part_of(split, 300)
        for s in meta.loc[cyclic, "scaffold"].unique():
            assert len(np.unique(label[(meta["scaffold"] == s).to_numpy()])) == 1
        # acyclic molecules are groups of one, so they reach more than one part
        assert len(np.unique(label[~cyclic])) > 1
        # a scaffold bigger than half the valid / test size (15 rows) goes to train first
        counts = meta.loc[cyclic, "scaffold"].value_counts()
        assert counts.iloc[0] > 15
        assert np.all(label[(meta["scaffold"] == counts.index[0]).to_numpy()] == 0)
    assert splits[0]["test"] != splits[1]["test"]
    assert make_split(meta, None, {"method": "scaffold", "seed": 0}) == splits[0]


def test_scaffold_split_keeps_copies_of_an_acyclic_molecule_together():
    meta = molecules(300, n_scaffolds=25, n_acyclic=60)
    acyclic = np.flatnonzero((meta["scaffold"] == "").to_numpy())
    # 30 acyclic molecules, each twice: apart, a copy in train and one in test would leak
    meta.loc[acyclic, "canonical_smiles"] = [f"C{'C' * (k // 2)}N" for k in range(len(acyclic))]
    for seed in range(4):
        split = make_split(meta, None, {"method": "scaffold", "seed": seed})
        label = part_of(split, 300)
        for key, rows in meta.iloc[acyclic].groupby("canonical_smiles").groups.items():
            assert len(np.unique(label[np.asarray(rows)])) == 1, key
        assert split["audit"]["duplicated_keys"] == 0
        assert len(np.unique(label[acyclic])) > 1  # still spread over parts, pair by pair


def test_scaffold_split_needs_a_scaffold_column():
    assert error(make_split, sequences(30), None, {"method": "scaffold"}).startswith(
        "split 'scaffold': meta has no column 'scaffold' (available: row, id, input, chrom, scene); ")


def test_stratified_split_preserves_class_ratios_and_picks_a_task():
    n = 400
    rng = np.random.default_rng(0)
    y = np.stack([(rng.random(n) < 0.25), np.arange(n) % 3], axis=1).astype(np.float32)
    y[5, 1] = np.nan  # a gap in the other task must not matter
    meta = molecules(n)
    split = make_split(meta, y, {"method": "stratified", "task": "active"}, tasks=["active", "kind"])
    check_partition(split, n)
    overall = y[:, 0].mean()
    for p in PARTS:
        rows = np.asarray(split[p])
        assert abs(y[rows, 0].mean() - overall) <= 1 / len(rows) + 1e-9
    assert make_split(meta, y, {"method": "stratified", "task": 0})["test"] == split["test"]
    assert make_split(meta, y, {"method": "stratified", "task": 0, "seed": 1})["test"] != split["test"]

    # multiclass, 1-D labels
    three = make_split(meta, np.arange(n, dtype=np.float32) % 3, {"method": "stratified"})
    for p in PARTS:
        counts = np.bincount(np.asarray(three[p]) % 3, minlength=3)
        assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("y, spec, tasks, message", [
    (np.ones((50, 1)), {}, ["toxic"],
     "stratified split: target 'toxic' has only one class (1); a stratified split needs at least two"),
    (np.where(np.arange(50) < 3, np.nan, np.arange(50) % 2)[:, None], {}, ["toxic"],
     "stratified split: target 'toxic' has 3 missing (NaN) labels of 50"),
    (np.stack([np.arange(50) % 2] * 2, 1), {}, ["a", "b"],
     "stratified split: y has 2 tasks (a, b); set 'task' to the one to stratify on"),
    (np.arange(50)[:, None] % 2, {"task": "c"}, ["a"], "stratified split: unknown task 'c' (tasks: a)"),
    (np.arange(50)[:, None] % 2, {"task": 3}, None,
     "stratified split: 'task' must be a task name or an index below 1, got 3"),
    (np.linspace(0, 1, 50)[:, None], {}, ["logS"], "stratified split: target 'logS' is not a class label"),
    (np.r_[np.zeros(49), 1][:, None], {}, ["rare"],
     "stratified split: target 'rare': The least populated class"),
    (None, {}, None, "stratified split: needs the labels y"),
])
def test_stratified_split_errors(y, spec, tasks, message):
    spec = {"method": "stratified", **spec}
    assert error(make_split, molecules(50), y, spec, tasks=tasks).startswith(message)


def test_group_split_keeps_groups_whole_and_approaches_fractions():
    meta = sequences(600)
    splits = [make_split(meta, None, {"method": "group", "key": "scene", "seed": s}) for s in range(3)]
    for split in splits:
        check_partition(split, 600)
        assert_groups_intact(split, meta["scene"])
        for p, f in zip(PARTS, (0.8, 0.1, 0.1)):
            assert abs(split["sizes"][p] - f * 600) <= 6  # one group of 6 rows at most
    assert splits[0]["test"] != splits[1]["test"]
    # few groups still reach every part
    few = make_split(meta, None, {"method": "group", "key": "chrom", "fractions": [0.6, 0.2, 0.2]})
    assert_groups_intact(few, meta["chrom"])
    assert few["sizes"] == {"train": 360, "valid": 120, "test": 120}


def test_group_split_errors():
    meta = sequences(30)
    assert error(make_split, meta, None, {"method": "group", "key": "plate"}) == (
        "split 'group': meta has no column 'plate' (available: row, id, input, chrom, scene)")
    assert error(make_split, meta, None, {"method": "group"}).startswith(
        "split 'group': set 'key' to the meta column")
    gap = meta.assign(chrom=meta["chrom"].where(meta.index != 4))
    assert error(make_split, gap, None, {"method": "group", "key": "chrom"}).startswith(
        "split 'group': column 'chrom' is missing for 1 of 30 rows (e.g. row 4)")
    assert error(make_split, sequences(30, n_chrom=2), None, {"method": "group", "key": "chrom"}).startswith(
        "split: the test part is empty (N=30, fractions [0.8, 0.1, 0.1]); whole groups go to one part "
        "(2 groups in 'chrom')")


def test_chromosome_split_respects_the_lists():
    meta = sequences(300)
    spec = {"method": "chromosome", "valid": ["chr6", "chr7"], "test": ["chr8", "chr9"]}
    split = make_split(meta, None, spec)
    check_partition(split, 300)
    chrom = meta["chrom"].to_numpy()
    assert set(chrom[split["valid"]]) == {"chr6", "chr7"}
    assert set(chrom[split["test"]]) == {"chr8", "chr9"}
    assert not set(chrom[split["train"]]) & {"chr6", "chr7", "chr8", "chr9"}
    assert split["params"]["key"] == "chrom"
    renamed = meta.rename(columns={"chrom": "contig"})
    spec = {"method": "chromosome", "valid": "chr6", "test": "chr8", "key": "contig"}
    assert make_split(renamed, None, spec)["sizes"] == {"train": 240, "valid": 30, "test": 30}


@pytest.mark.parametrize("spec, message", [
    ({"valid": ["chr6"], "test": ["chr8", "chrX"]},
     "split 'chromosome': test chromosome 'chrX' does not occur in column 'chrom' "
     "(present: chr1, chr10, chr2"),
    ({"valid": ["chr6"], "test": ["chr6"]}, "split 'chromosome': chr6 listed in both valid and test"),
    ({"test": ["chr8"]}, "split 'chromosome': set 'valid' to a list of chromosomes"),
    ({"valid": ["chr1"], "test": ["chr3"], "key": "chr"}, "split 'chromosome': meta has no column 'chr'"),
    ({"valid": ["chr1"], "test": ["chr2"], "key": "chrom", "n": 2},
     "split: the train part is empty (N=30, valid ['chr1'], test ['chr2']); every other chromosome is train"),
])
def test_chromosome_split_errors(spec, message):
    spec = dict(spec)
    meta = sequences(30, n_chrom=spec.pop("n", 10))
    assert error(make_split, meta, None, {"method": "chromosome", **spec}).startswith(message)


@pytest.mark.parametrize("key", [None, "scene"])
def test_kfold_every_row_is_test_exactly_once_across_folds(key):
    meta = sequences(240)
    n_folds = 4
    folds = [make_split(meta, None, {"method": "kfold", "n_folds": n_folds, "fold": f, "key": key, "seed": 7})
             for f in range(n_folds)]
    test_count = np.zeros(240, int)
    for fold, split in enumerate(folds):
        check_partition(split, 240)
        test_count[split["test"]] += 1
        assert split["valid"] == folds[(fold + 1) % n_folds]["test"]  # valid of fold k is test of k + 1
        if key:
            assert_groups_intact(split, meta[key])
        else:
            assert all(split["sizes"][p] in (60, 120) for p in PARTS)
    assert np.all(test_count == 1)
    other = make_split(meta, None, {"method": "kfold", "n_folds": n_folds, "key": key, "seed": 8})
    assert other["test"] != folds[0]["test"]


def test_kfold_ignores_fractions_and_checks_its_own_params():
    meta = sequences(30)
    split = make_split(meta, None, {"method": "kfold", "n_folds": 3, "fractions": [1, 0, 0]})
    assert split["sizes"] == {"train": 10, "valid": 10, "test": 10}
    assert error(make_split, meta, None, {"method": "kfold", "n_folds": 2}).startswith(
        "split 'kfold': n_folds must be an integer >= 3")
    assert error(make_split, meta, None, {"method": "kfold", "fold": 5}) == (
        "split 'kfold': fold must be an integer in 0..4, got 5")
    assert error(make_split, sequences(30, n_chrom=2), None, {"method": "kfold", "key": "chrom"}) == (
        "split: the train part is empty (N=30, n_folds 5, fold 0, key 'chrom'); "
        "each fold needs at least one row (or group): use fewer folds")


# -- make_split: record, validation -------------------------------------------------------------
def test_make_split_record_is_json_able_complete_and_deterministic():
    meta = molecules(50)
    split = make_split(meta, np.zeros((50, 1), np.float32), {"method": "random", "seed": 2})
    assert json.loads(json.dumps(split)) == split
    assert split["method"] == "random" and split["seed"] == 2 and split["n"] == 50
    assert split["params"] == {"method": "random", "fractions": [0.8, 0.1, 0.1], "seed": 2, "dedupe": False}
    assert split["sizes"] == {"train": 40, "valid": 5, "test": 5}
    assert split["dropped"] == []
    assert set(split["audit"]) == {"key", "duplicated_keys", "rows_in_leaking_groups", "examples",
                                   "within_part_duplicates", "modality", "molecules", "reading"}
    assert make_split(meta, None, {"method": "random", "seed": 2}) == split
    # meta's index labels are never used: only positions count
    relabelled = meta.set_axis(np.arange(50)[::-1] * 10)
    assert make_split(relabelled, None, {"method": "random", "seed": 2})["test"] == split["test"]


@pytest.mark.parametrize("spec, message", [
    ({"method": "rnadom"},
     "unknown split method 'rnadom' (known: blocks, butina, chromosome, group, kfold, random, scaffold, stratified)"),
    ({}, "unknown split method None (known: "),
    ({"method": "random", "frac": [0.8, 0.1, 0.1]},
     "split method 'random': unknown parameter 'frac' (known: fractions, seed, dedupe)"),
    ({"method": "scaffold", "key": "x"}, "split method 'scaffold': unknown parameter 'key'"),
    ({"method": "random", "fractions": [0.8, 0.2]},
     "split: fractions must be 3 non-negative numbers (train, valid, test) summing to 1, got [0.8, 0.2]"),
    ({"method": "random", "fractions": [0.8, 0.3, -0.1]}, "split: fractions must be 3 non-negative numbers"),
    ({"method": "random", "fractions": [0.8, 0.1, 0.2]}, "split: fractions must be 3 non-negative numbers"),
    ({"method": "random", "fractions": "0.8,0.1,0.1"}, "split: fractions must be 3 non-negative numbers"),
    ({"method": "random", "fractions": [0.8, 0.1, "0.1"]}, "split: fractions must be 3 non-negative numbers"),
    ({"method": "random", "seed": -1}, "split: seed must be a non-negative integer, got -1"),
    ({"method": "random", "seed": 1.5}, "split: seed must be a non-negative integer, got 1.5"),
    ({"method": "random", "dedupe": "yes"}, "split: 'dedupe' must be true or false, got 'yes'"),
    ({"method": "random", "fractions": [0.9, 0.1, 0.0]},
     "split: the test part is empty (N=100, fractions [0.9, 0.1, 0.0]); "
     "give it a larger fraction or use more data"),
    ({"method": "scaffold", "fractions": [0.9, 0.0, 0.1]}, "split: the valid part is empty (N=100"),
    ({"method": "stratified", "fractions": [0.9, 0.1, 0.0]}, "split: the test part is empty (N=100"),
])
def test_make_split_bad_specs(spec, message):
    assert error(make_split, molecules(100), np.arange(100)[:, None] % 2, spec).startswith(message)


def test_fractions_within_tolerance_are_accepted():
    split = make_split(molecules(100), None, {"method": "random", "fractions": [0.7, 0.2, 0.1 + 5e-7]})
    assert split["sizes"] == {"train": 70, "valid": 20, "test": 10}


@pytest.mark.parametrize("method", ["random", "scaffold", "group"])
def test_too_few_samples(method):
    spec = {"method": method, "key": "scene"} if method == "group" else {"method": method}
    meta = molecules(5, n_acyclic=1).assign(scene=["a", "b", "c", "d", "e"])
    assert error(make_split, meta, None, spec).startswith(
        "split: the test part is empty (N=5, fractions [0.8, 0.1, 0.1]); ")
    assert error(make_split, meta.iloc[:2], None, spec) == (
        "split: 2 samples, fewer than the 3 parts (train, valid, test)")


# -- leakage audit and dedupe -------------------------------------------------------------------
def test_canonical_key_is_smiles_then_file_hash_then_upper_cased_input():
    meta = pd.DataFrame({"input": ["acgT", "ACGT", None], "sha256": ["h1", "h1", "h2"],
                         "canonical_smiles": ["CCO", "OCC", None]})
    col, keys = canonical_keys(meta)
    assert col == "canonical_smiles" and keys.tolist() == ["CCO", "OCC", None]
    col, keys = canonical_keys(meta.drop(columns="canonical_smiles"))
    assert col == "sha256" and keys.tolist() == ["h1", "h1", "h2"]
    col, keys = canonical_keys(meta[["input"]])
    assert col == "input" and keys.tolist() == ["ACGT", "ACGT", None]
    assert error(canonical_keys, meta[[]].assign(id=[1, 2, 3])).startswith(
        "split: meta has none of the columns canonical_smiles, sha256, input for the leakage audit")


def test_audit_counts_a_constructed_leak():
    long = "C" * 100 + "O"
    keys = np.array(["A", "B", "A", "C", "A", "D", long, long, "E", "E", None, None], dtype=object)
    parts = {"train": [0, 1, 6, 8, 9, 10], "valid": [2, 3, 11], "test": [4, 5, 7]}
    audit = leakage_audit(keys, parts, key="canonical_smiles")
    assert audit == {
        "key": "canonical_smiles",
        "duplicated_keys": 2,  # 'A' in all three parts, the long key in train and test
        "rows_in_leaking_groups": 5,  # rows 0, 2, 4, 6, 7
        "examples": ["A", "C" * 77 + "..."],
        "within_part_duplicates": 1,  # 'E' twice in train; rows without a key never count
    }
    assert len(audit["examples"][1]) == 80
    # rows in no part (dropped) are ignored
    assert leakage_audit(keys, {"train": [0, 1], "valid": [3], "test": [5]})["duplicated_keys"] == 0


def test_audit_and_dedupe_agree_with_a_plain_python_count():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(3, 80))
        keys = np.array([None if v == 0 else f"k{v}" for v in rng.integers(0, 15, n)], dtype=object)
        label = rng.integers(-1, 3, n)  # -1: dropped
        parts = {p: np.flatnonzero(label == k) for k, p in enumerate(PARTS)}
        where: dict[str, set] = {}
        rows: dict[str, int] = {}
        for i in range(n):
            if keys[i] is not None and label[i] >= 0:
                where.setdefault(keys[i], set()).add(label[i])
                rows[keys[i]] = rows.get(keys[i], 0) + 1
        leaking = sorted((k for k in where if len(where[k]) > 1), key=keys.tolist().index)  # row order
        audit = leakage_audit(keys, parts)
        assert audit["duplicated_keys"] == len(leaking)
        assert audit["rows_in_leaking_groups"] == sum(rows[k] for k in leaking)
        assert audit["examples"] == leaking[:5]
        assert audit["within_part_duplicates"] == sum(rows.values()) - sum(len(s) for s in where.values())
        first = [i for i in range(n) if keys[i] is None or keys[i] not in keys[:i]]
        assert first_of_each(keys).tolist() == first


def test_make_split_audit_sees_soft_masked_duplicates_across_chromosomes():
    meta = sequences(60, n_chrom=3)
    meta.loc[0, "input"] = "acgtacgt"  # chr1, soft-masked
    meta.loc[2, "input"] = "ACGTACGT"  # chr3, the same sequence
    split = make_split(meta, None, {"method": "chromosome", "valid": ["chr2"], "test": ["chr3"]})
    assert split["audit"]["key"] == "input"
    assert split["audit"]["duplicated_keys"] == 1
    assert split["audit"]["rows_in_leaking_groups"] == 2
    assert split["audit"]["examples"] == ["ACGTACGT"]


@pytest.mark.parametrize("method", ["random", "scaffold", "kfold"])
def test_dedupe_keeps_the_first_row_of_each_key_and_removes_all_leaks(method):
    meta = molecules(200)
    meta["canonical_smiles"] = [f"K{i % 50}" for i in range(200)]  # every key 4 times
    leaky = make_split(meta, None, {"method": method})
    assert leaky["audit"]["duplicated_keys"] > 0 and leaky["dropped"] == []
    split = make_split(meta, None, {"method": method, "dedupe": True})
    assert split["dropped"] == list(range(50, 200))
    check_partition(split, 200, dropped=split["dropped"])
    assert sum(split["sizes"].values()) == 50 and split["n"] == 200
    assert split["audit"]["duplicated_keys"] == 0
    assert split["audit"]["rows_in_leaking_groups"] == 0
    assert split["audit"]["within_part_duplicates"] == 0
    assert split["params"]["dedupe"] is True


def test_an_error_after_dedupe_says_how_many_rows_it_dropped():
    meta = molecules(10, n_acyclic=2).assign(canonical_smiles=["K0", "K1"] * 5)
    assert error(make_split, meta, None, {"method": "random", "dedupe": True}) == (
        "split: 2 samples, fewer than the 3 parts (train, valid, test) (after dedupe dropped 8 of 10 rows)")


def test_dedupe_on_images_uses_the_file_hash_and_keeps_rows_without_a_key():
    meta = pd.DataFrame({"input": [f"img{i}.tif" for i in range(12)],
                         "sha256": ["x", "x", None, "y", "z", "y", "a", "b", "c", "d", "e", "f"]})
    split = make_split(meta, None, {"method": "random", "dedupe": True, "fractions": [0.5, 0.25, 0.25]})
    assert split["dropped"] == [1, 5]
    assert split["audit"]["key"] == "sha256"
    check_partition(split, 12, dropped=[1, 5])


# -- files --------------------------------------------------------------------------------------
def test_save_and_load_round_trip_atomically(tmp_path):
    split = make_split(molecules(40), None, {"method": "scaffold", "seed": 1})
    path = save_split(split, tmp_path / "splits" / "ds" / "scaffold.json")
    assert load_split(path) == split
    assert path.read_text().startswith('{\n "audit": {\n  "duplicated_keys"')  # sorted keys, indent 1
    assert [p.name for p in path.parent.iterdir()] == ["scaffold.json"]  # no temp file left behind
    save_split({**split, "seed": 9}, path)  # overwrite in place
    assert load_split(path)["seed"] == 9


def test_save_split_leaves_no_temp_file_when_writing_fails(tmp_path):
    with pytest.raises(TypeError):
        save_split({"train": object()}, tmp_path / "s.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content, message", [
    (None, "split file not found"),
    ("{not json", "not a split file (invalid JSON"),
    ('{"train": [1], "valid": [2]}', "not a split file (needs lists train, valid, test)"),
    ('{"train": [0, 1], "valid": [2], "test": [1, 3]}', "parts 'train' and 'test' share 1 rows (e.g. row 1)"),
    ('{"train": [0, 0], "valid": [2], "test": [3]}', "'train' lists a row twice"),
    ('{"train": [0, "1"], "valid": [2], "test": [3]}', "'train' must be a list of non-negative row numbers"),
    ('{"n": 4, "train": [0, 1], "valid": [2], "test": [4]}', "'test' has row 4, but the dataset has n=4"),
])
def test_load_split_errors(tmp_path, content, message):
    path = tmp_path / "split.json"
    if content is not None:
        path.write_text(content)
    assert error(load_split, path).startswith(f"{path}: {message}")


# -- real data ----------------------------------------------------------------------------------
def test_scaffold_split_of_freesolv(tmp_path):
    from biodl.dataset import featurize_source

    src = {"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles", "id": "id",
           "targets": ["expt"]}
    ds = featurize_source(src, "ecfp", tmp_path / "freesolv" / "ecfp")
    n = len(ds)
    split = make_split(ds.meta, ds.y, {"method": "scaffold", "seed": 0}, tasks=ds.tasks)
    check_partition(split, n)
    scaffold = ds.meta["scaffold"].to_numpy()
    seen = {}
    for p in PARTS:
        for s in set(scaffold[split[p]]) - {""}:
            assert seen.setdefault(s, p) == p, f"scaffold {s} in {seen[s]} and {p}"
    for p, f in zip(PARTS, (0.8, 0.1, 0.1)):
        assert abs(split["sizes"][p] / n - f) <= 0.05
    assert split["audit"]["key"] == "canonical_smiles" and split["audit"]["duplicated_keys"] == 0
    assert make_split(ds.meta, ds.y, {"method": "scaffold", "seed": 1})["test"] != split["test"]
