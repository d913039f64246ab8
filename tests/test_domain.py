"""Applicability domain (biodl.domain): count-fingerprint similarity, descriptor ranges and elements.

A congeneric training set the tests write (substituted benzamides, anilines and acetanilides); the
molecules that must fall out of domain (very large, unseen elements, other chemotypes) and those that
must stay in (the training molecules, close analogues); model files from before the ranges; the
prediction table and ``biodl predict`` through the CLI."""

import io

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem

from biodl import domain as D
from biodl.errors import UserError

SUBSTITUENTS = ["", "F", "Cl", "Br", "C", "OC", "C(F)(F)F", "C#N", "CC", "O"]
AMIDES = ["N", "CN", "CCN", "CN(C)"]  # benzamide, N-methyl, N-ethyl, N,N-dimethyl


def congeneric_series() -> list[str]:
    """67 benzamides (4 amides × 10 para substituents), meta benzamides, anilines and acetanilides."""
    out = []
    for x in SUBSTITUENTS:
        out += [f"{a}C(=O)c1ccc({x})cc1" if x else f"{a}C(=O)c1ccccc1" for a in AMIDES]
        if x:
            out += [f"NC(=O)c1cccc({x})c1", f"Nc1ccc({x})cc1", f"CC(=O)Nc1ccc({x})cc1"]
    return sorted(set(out))


TRAIN = congeneric_series()

#: name → (SMILES, a phrase its domain_reason must hold)
OUT_OF_DOMAIN = {
    "C300 alkane": ("C" * 300, "300 heavy atoms (training 8–15)"),
    "C40 alkane": ("C" * 40, "40 heavy atoms"),
    "trimethylsilyl benzamide": ("NC(=O)c1ccc([Si](C)(C)C)cc1", "element Si not in training"),
    "selenophene carboxamide": ("NC(=O)c1ccc[se]1", "element Se not in training"),
    "boronic acid": ("NC(=O)c1ccc(B(O)O)cc1", "element B not in training"),
    "iodo benzamide": ("NC(=O)c1ccc(I)cc1", "element I not in training"),
    "testosterone": ("C[C@]12CC[C@H]3[C@@H](CCC4=CC(=O)CC[C@@]34C)[C@@H]1CC[C@@H]2O", "4 rings (training 1)"),
    "estradiol": ("C[C@]12CC[C@H]3[C@@H](CCc4cc(O)ccc34)[C@@H]1CC[C@@H]2O", "count similarity"),
    "leu-enkephalin": ("CC(C)C[C@@H](C(=O)O)NC(=O)[C@H](Cc1ccccc1)NC(=O)CNC(=O)CNC(=O)[C@@H](N)Cc1ccc(O)cc1",
                       "rotatable bonds"),
    "18-crown-6": ("C1COCCOCCOCCOCCOCCO1", "18-membered ring (training at most 6)"),
    "cyclododecane": ("C1CCCCCCCCCCC1", "12-membered ring"),
    "glucose": ("OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O", "count similarity"),
    "adamantane": ("C1C2CC3CC1CC(C2)C3", "4 rings"),
    "benzyltrimethylammonium": ("C[N+](C)(C)Cc1ccccc1", "net charge +1 (training +0)"),
}

#: analogues a chemist would call part of the series: one substituent moved, added or swapped
CLOSE_ANALOGUES = [
    "CNC(=O)c1cccc(OC)c1", "NC(=O)c1ccccc1Cl", "NC(=O)c1ccc(Cl)c(Cl)c1", "CN(C)C(=O)c1ccc(OCC)cc1",
    "CCCNC(=O)c1ccc(F)cc1", "NC(=O)c1ccc(C(C)C)cc1", "Nc1cccc(F)c1", "CCCNC(=O)c1ccc(C(F)(F)F)cc1",
    "CNC(=O)c1cccc(C#N)c1", "CC(=O)Nc1cccc(OC)c1", "NC(=O)c1ccc(F)c(F)c1", "CNC(=O)c1cccc(Br)c1",
]


@pytest.fixture(scope="module")
def payload():
    return D.domain_payload(TRAIN)


def test_the_series_is_what_the_tests_assume(payload):
    assert len(TRAIN) == 67 and payload["n_train"] == 67
    assert payload["elements"] == ["Br", "C", "Cl", "F", "N", "O"]
    assert payload["descriptor_ranges"]["heavy_atoms"] == [8.0, 15.0]
    assert payload["descriptor_ranges"]["rings"] == [1.0, 1.0]
    assert payload["descriptor_ranges"]["formal_charge"] == [0.0, 0.0]


@pytest.mark.parametrize("name", list(OUT_OF_DOMAIN))
def test_out_of_domain(payload, name):
    smiles, phrase = OUT_OF_DOMAIN[name]
    columns = D.assess(payload, [smiles])
    assert columns["in_domain"][0] is not pd.NA and not columns["in_domain"][0]
    assert phrase in columns["domain_reason"][0], columns["domain_reason"][0]
    assert 0 <= columns["max_tanimoto_counts"][0] <= 1


def test_training_molecules_and_close_analogues_are_in_domain(payload):
    canonical = {Chem.MolToSmiles(m) for m in D.parse(TRAIN)}
    assert not canonical & {Chem.MolToSmiles(m) for m in D.parse(CLOSE_ANALOGUES)}  # analogues, not copies
    columns = D.assess(payload, TRAIN + CLOSE_ANALOGUES)
    reasons = {s: r for s, r in zip(TRAIN + CLOSE_ANALOGUES, columns["domain_reason"]) if r}
    assert not reasons
    assert columns["in_domain"].all()
    n = len(TRAIN)
    assert np.array_equal(columns["max_tanimoto_counts"][:n], np.ones(n))  # each is its own neighbour
    assert (columns["max_tanimoto_counts"][n:] >= 0.4).all()


def test_a_long_alkane_fools_bits_not_counts():
    """The issue's case: every Morgan bit of C300 occurs in an alkane, so bit Tanimoto is 1.0."""
    alkanes = D.domain_payload(["CCCCCC", "CCCCCCCCCC", "CC(C)CCC", "CCO", "c1ccccc1"])
    columns = D.assess(alkanes, ["C" * 300, "CCCCCCCC"])
    assert columns["max_tanimoto"][0] == 1.0
    assert columns["max_tanimoto_counts"][0] < 0.05
    assert list(columns["in_domain"]) == [False, True]
    assert columns["domain_reason"][0].startswith("300 heavy atoms (training 3–10)")
    assert columns["domain_reason"][0].endswith("count similarity 0.03 (< 0.3)")
    assert columns["domain_reason"][1] == ""


def test_reason_lists_three_findings_then_how_many_more(payload):
    erythromycin = ("CC[C@@H]1[C@@]([C@@H]([C@H](C(=O)[C@@H](C[C@@]([C@@H]([C@H]([C@@H]([C@H](C(=O)O1)C)"
                    "O[C@H]2C[C@@]([C@H]([C@@H](O2)C)O)(C)OC)C)O[C@H]3[C@@H]([C@H](C[C@H](O3)C)N(C)C)O)(C)O)C)C)O)(C)O")
    reason = D.assess(payload, [erythromycin])["domain_reason"][0]
    parts = reason.split("; ")
    assert len(parts) == 5 and parts[3].endswith("more out of range") and parts[4].startswith("count similarity")


def test_count_tanimoto_is_exact():
    """Against RDKit's own count Tanimoto on unfolded Morgan counts, for molecules of every size."""
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    rng = np.random.default_rng(0)
    reference = TRAIN[::2] + ["C" * 30, "CCCCCC"]
    queries = TRAIN[1::2] + [s for s, _ in OUT_OF_DOMAIN.values()] + ["C" * 12]
    rng.shuffle(queries)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2)
    ref_fps = [generator.GetSparseCountFingerprint(m) for m in D.parse(reference)]
    expected = [max(DataStructs.BulkTanimotoSimilarity(generator.GetSparseCountFingerprint(m), ref_fps))
                for m in D.parse(queries)]
    got = D.max_count_tanimoto(D.count_fingerprints(D.parse(queries)), D.count_fingerprints(D.parse(reference)))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got.dtype == np.float64 and got.shape == (len(queries),)


def test_empty_reference_or_queries():
    empty = D.count_fingerprints([])
    some = D.count_fingerprints(D.parse(["CCO", "c1ccccc1"]))
    assert D.max_count_tanimoto(some, empty).tolist() == [0.0, 0.0]
    assert D.max_count_tanimoto(empty, some).shape == (0,)
    columns = D.assess(D.domain_payload(["CCO"]), [])
    assert {k: len(v) for k, v in columns.items()} == {"max_tanimoto": 0, "max_tanimoto_counts": 0,
                                                       "in_domain": 0, "domain_reason": 0}


def test_unparseable_inputs_are_nan_false_with_a_reason(payload):
    columns = D.assess(payload, ["NC(=O)c1ccccc1", "not((a smiles", "", None, float("nan")])
    assert np.isnan(columns["max_tanimoto"][1:]).all() and np.isnan(columns["max_tanimoto_counts"][1:]).all()
    assert list(columns["in_domain"]) == [True, False, False, False, False]
    assert list(columns["domain_reason"][1:]) == [D.UNPARSED] * 4
    with pytest.raises(UserError, match="not parsed by RDKit"):
        D.violations(payload, "not((a smiles")
    assert D.violations(payload, "NC(=O)c1ccc([Si](C)(C)C)cc1") == ["element Si not in training (Br, C, Cl, F, N, O)"]


def test_old_model_file_without_ranges_still_predicts(payload):
    old = {k: payload[k] for k in ("radius", "n_bits", "n_train", "fingerprints")}  # what biodl wrote before
    smiles = ["C" * 300, "NC(=O)c1ccc(F)cc1", "###"]
    new_columns, old_columns = D.assess(payload, smiles), D.assess(old, smiles)
    np.testing.assert_array_equal(old_columns["max_tanimoto"], new_columns["max_tanimoto"])
    assert np.isnan(old_columns["max_tanimoto_counts"]).all()
    assert old_columns["in_domain"].isna().tolist() == [True, True, False]
    assert list(old_columns["domain_reason"]) == [D.PREDATES, D.PREDATES, D.UNPARSED]
    np.testing.assert_array_equal(D.similarity_to_training(old, smiles), new_columns["max_tanimoto"])


def test_damaged_payload_is_one_line(payload):
    broken = {**payload, "count_fingerprints": {**payload["count_fingerprints"],
                                                "indptr": payload["count_fingerprints"]["indptr"][:-2]}}
    with pytest.raises(UserError, match="applicability-domain data are damaged") as err:
        D.assess(broken, ["CCO"])
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="damaged"):
        D.assess({**payload, "descriptor_ranges": "heavy_atoms"}, ["CCO"])


def test_payload_is_small_and_loads_with_weights_only(payload):
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    nnz = len(payload["count_fingerprints"]["ids"])
    # packed bits 256 B per molecule; counts 5 B per environment; ranges and elements well under 2 kB
    assert len(buffer.getvalue()) < 67 * 256 + nnz * 5 + 67 * 8 + 6000
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert loaded["count_fingerprints"]["counts"].dtype == torch.uint8
    smiles = ["C" * 300, "CNC(=O)c1cccc(OC)c1"]
    same, again = D.assess(payload, smiles), D.assess(loaded, smiles)
    for key in same:
        assert list(same[key]) == list(again[key]), key


def test_counts_above_255_are_clipped_in_storage_only():
    payload = D.domain_payload(["C" * 400])
    assert int(payload["count_fingerprints"]["counts"].max()) == 255
    assert D.assess(payload, ["C" * 400])["in_domain"][0]


def test_domain_scores_split_errors_by_in_domain():
    frame = pd.DataFrame({"in_domain": pd.array([True, True, False, None], dtype="boolean"),
                          "max_tanimoto_counts": [0.9, 0.8, 0.1, np.nan]})
    scores = D.domain_scores(np.array([0.1, 0.3, 2.0, 9.0]), frame)
    assert scores == {"n_in_domain": 2, "n_out_of_domain": 1, "mean_error_in_domain": pytest.approx(0.2),
                      "mean_error_out_of_domain": 2.0, "mean_max_tanimoto_counts": pytest.approx(0.6)}
    assert D.domain_scores(np.zeros(2), pd.DataFrame({"max_tanimoto": [0.5, 0.6]})) == {}


def test_cli_predict_writes_the_domain_columns(tmp_path):
    """biodl featurize / split / train (a tiny MLP, 3 epochs) / predict on raw SMILES."""
    from rdkit.Chem import Crippen

    from tests.conftest import run_cli

    mols = D.parse(TRAIN)
    pd.DataFrame({"id": [f"m{i}" for i in range(len(TRAIN))], "smiles": TRAIN,
                  "logp": [Crippen.MolLogP(m) for m in mols]}).to_csv(tmp_path / "series.csv", index=False)
    features, split, model = tmp_path / "features", tmp_path / "split.json", tmp_path / "model"
    code, _, err = run_cli("featurize", tmp_path / "series.csv", "--id-col", "id", "--targets", "logp",
                           "--featurizer", "ecfp", "--param", "n_bits=256", "-o", features)
    assert code == 0, err
    # 20 % validation rows: conformal calibration at 90 % needs at least 9
    code, _, err = run_cli("split", "--features", features, "--spec",
                           '{"method": "random", "fractions": [0.7, 0.2, 0.1]}', "-o", split)
    assert code == 0, err
    code, _, err = run_cli("train", "--name", "series", "--features", features, "--split", split, "-o", model,
                           "--progress", "0", "--experiment",
                           '{"model": {"type": "mlp", "hidden": [8]}, "train": {"epochs": 3}}')
    assert code == 0, err
    queries = pd.DataFrame({"id": ["analogue", "c300", "silane", "steroid", "garbage"],
                            "smiles": ["CNC(=O)c1cccc(OC)c1", "C" * 300, "NC(=O)c1ccc([Si](C)(C)C)cc1",
                                       OUT_OF_DOMAIN["testosterone"][0], "not((a smiles"]})
    queries.to_csv(tmp_path / "queries.csv", index=False)
    code, _, err = run_cli("predict", "--model", model / "model.pt", tmp_path / "queries.csv", "--id-col", "id",
                           "-o", tmp_path / "out.csv")
    assert code == 0, err
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, na_values=[""])
    assert list(out.columns[-5:]) == ["max_tanimoto", "max_tanimoto_counts", "in_domain", "domain_reason",
                                      "reject_reason"]
    assert out["in_domain"].tolist() == [True, False, False, False, False]
    assert out["max_tanimoto"].iloc[1] < 1 and out["max_tanimoto_counts"].iloc[1] < 0.05
    assert out["domain_reason"].iloc[1].startswith("300 heavy atoms")
    assert "element Si" in out["domain_reason"].iloc[2] and "4 rings" in out["domain_reason"].iloc[3]
    assert out["domain_reason"].iloc[4] == D.UNPARSED and np.isnan(out["max_tanimoto"].iloc[4])
    assert out["reject_reason"].iloc[4] != "" and out["logp_pred"].iloc[:4].notna().all()


def test_prediction_table_round_trip_and_scores(payload, tmp_path):
    """The columns survive the parquet table beside a baseline without them, and evaluate scores them."""
    from biodl import predictions
    from biodl.tasks import Regression

    task = Regression(["y"])
    smiles = TRAIN[:6] + ["C" * 300, "NC(=O)c1ccc([Si](C)(C)C)cc1", "###"]
    n = len(smiles)
    y = np.arange(n, dtype=np.float64)[:, None]
    pred = y[:, 0] + np.r_[np.full(6, 0.1), 3.0, 5.0, 7.0]
    rows = np.arange(n)
    deep = predictions.long_table("mlp", "test", rows.astype(str), rows, y, task,
                                  [{"y_pred": pred, "y_std": np.ones(n)}], D.assess(payload, smiles))
    base = predictions.long_table("random_forest", "test", rows.astype(str), rows, y, task, task.point_columns(y))
    predictions.write(pd.concat([deep, base], ignore_index=True), tmp_path / "p.parquet")
    table = predictions.read([tmp_path / "p.parquet"])
    mine = table[table["model"] == "mlp"]
    assert mine["in_domain"].tolist() == [True] * 6 + [False] * 3
    assert mine["domain_reason"].iloc[-1] == D.UNPARSED and mine["domain_reason"].iloc[0] == ""
    scores = task.scores_by_task(mine)["y"]["applicability_domain"]
    assert scores["n_in_domain"] == 6 and scores["n_out_of_domain"] == 3
    assert scores["mean_error_in_domain"] == pytest.approx(0.1) and scores["mean_error_out_of_domain"] == pytest.approx(5)
    assert scores["mean_max_tanimoto_counts"] == pytest.approx(np.nanmean(mine["max_tanimoto_counts"]))
    assert "spearman_error_similarity" in scores  # the bit-similarity metrics stay
