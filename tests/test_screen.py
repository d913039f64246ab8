"""Virtual screening, first part (issue 15): standardization, structural alerts, ranking, diverse
picks, and the chunked `biodl screen` (same output for any chunk size; bad records are rows with a
reason, never a stopped screen)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from biodl.errors import UserError
from biodl.screening import AlertFilter, Standardizer, acquisition, diverse_picks
from tests.conftest import ROOT


# -- standardization ----------------------------------------------------------------------------
@pytest.mark.parametrize("raw, parent", [
    ("C[NH3+].[Cl-]", "CN"),                     # a salt: the organic ion, neutralized
    ("CC(=O)[O-].[Na+]", "CC(=O)O"),
    ("O=C(O)c1ccccc1.O", "O=C(O)c1ccccc1"),      # a hydrate: the water goes
    ("OCC", "CCO"),                              # canonical SMILES
])
def test_standardizer_keeps_the_neutral_organic_parent(raw, parent):
    result = Standardizer().standardize(raw)
    assert result.smiles == parent and result.reason == ""


@pytest.mark.parametrize("raw, reason", [("C1CC", "invalid SMILES"), ("[Na+].[Cl-]", "no organic fragment"),
                                         ("", "empty")])
def test_standardizer_rejects_with_a_reason(raw, reason):
    result = Standardizer().standardize(raw)
    assert result.mol is None and reason in result.reason


def test_canonical_tautomer_on_request():
    keto, enol = Standardizer(tautomer=True).standardize("CC(=O)C"), Standardizer(tautomer=True).standardize("CC(O)=C")
    assert keto.smiles == enol.smiles
    assert Standardizer().standardize("CC(O)=C").smiles != keto.smiles


# -- alerts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("smiles, alert", [
    ("O=C1NC(=S)SC1=Cc1ccccc1", "ene_rhod"),     # 5-benzylidene rhodanine
    ("Oc1ccccc1O", "catechol"),
    ("O=C1C=CC(=O)C=C1", "quinone"),
])
def test_known_pains_are_flagged(smiles, alert):
    found = AlertFilter(["pains"]).alerts(Chem.MolFromSmiles(smiles))
    assert any(alert in description for _, description in found), found


def test_clean_molecules_pass_and_catalogs_are_named():
    clean = [Chem.MolFromSmiles(s) for s in ("CCO", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "c1ccncc1")]
    assert AlertFilter(["pains"]).passes(clean).all()
    both = AlertFilter(["pains", "brenk"]).alerts(Chem.MolFromSmiles("O=[N+]([O-])c1ccccc1"))
    assert {c for c, _ in both} == {"brenk"}  # a nitro group: Brenk's, not a PAINS pattern
    assert AlertFilter(["inpharmatica"]).alerts(Chem.MolFromSmiles("O=C1C=CC(=O)C=C1"))
    with pytest.raises(ValueError, match="unknown alert catalog"):
        AlertFilter(["pains", "painz"])
    assert AlertFilter([]).passes([Chem.MolFromSmiles("Oc1ccccc1O")]).all()  # no catalogs: no alerts


# -- ranking and picks --------------------------------------------------------------------------
def test_acquisition_scores():
    mean, sigma = np.array([1.0, 2.0, 0.5]), np.array([2.0, 0.0, 0.1])
    assert np.argmax(acquisition(mean)) == 1
    assert np.argmax(acquisition(mean, sigma, method="ucb", beta=1.0)) == 0  # unsure and good enough
    assert np.argmax(acquisition(mean, greater=False)) == 2
    with pytest.raises(ValueError, match="sigma"):
        acquisition(mean, method="ucb")


def test_diverse_picks_cover_both_families_and_start_at_the_best():
    alcohols = [f"{'C' * k}O" for k in range(2, 9)]
    aromatics = ["c1ccccc1", "Cc1ccccc1", "CCc1ccccc1", "Clc1ccccc1", "Oc1ccccc1C", "c1ccc2ccccc2c1"]
    mols = [Chem.MolFromSmiles(s) for s in alcohols + aromatics]
    ranking = np.arange(len(mols), dtype=float)  # the last aromatic ranks best
    picks = diverse_picks(mols, 2, ranking=ranking)
    assert picks[0] == len(mols) - 1 and picks[1] < len(alcohols)  # the second pick leaves the family
    assert np.array_equal(diverse_picks(mols, 5, seed=3), diverse_picks(mols, 5, seed=3))
    butina = diverse_picks(mols, 10, method="butina", ranking=ranking, threshold=0.8)
    families = {i < len(alcohols) for i in butina}
    assert families == {True, False} and len(set(butina)) == len(butina)
    assert len(diverse_picks(mols, 0)) == 0 and len(diverse_picks(mols, 100)) == len(mols)


# -- the screen ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def solubility_model(tmp_path_factory):
    """A small ECFP MLP on the solubility training file with a variance head for σ (deterministic:
    MC dropout draws its masks per batch, so its numbers would depend on how records are chunked)."""
    from biodl.cli import main

    work = tmp_path_factory.mktemp("screen_model")
    data = ROOT / "data" / "molecules" / "solubility_train.csv"
    steps = [["featurize", str(data), "--input-col", "smiles", "--id-col", "id", "--targets", "logS",
              "--featurizer", json.dumps({"type": "ecfp", "radius": 2, "n_bits": 1024}), "-o", str(work / "fs")],
             ["split", "--features", str(work / "fs"), "--spec", '{"method": "random"}', "-o", str(work / "split.json")],
             ["train", "--name", "sol", "--features", str(work / "fs"), "--split", str(work / "split.json"),
              "--experiment", json.dumps({"task": "regression", "model": {"type": "mlp", "hidden": [64], "dropout": 0.2},
                                          "train": {"epochs": 10, "progress": False},
                                          "uncertainty": {"heteroscedastic": True}}),
              "--progress", "0", "-o", str(work / "model")]]
    for step in steps:
        assert main(step) == 0, step[0]
    return work / "model" / "model.pt"


BAD_ROWS = [("bad-syntax", "C1CC"), ("empty", ""), ("inorganic", "[Na+].[Cl-]"),
            ("rhodanine", "O=C1NC(=S)SC1=Cc1ccccc1"), ("acetate-salt", "CC(=O)[O-].[Na+]")]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    test = pd.read_csv(ROOT / "data" / "molecules" / "solubility_test.csv")
    frame = pd.concat([pd.DataFrame({"id": test["id"], "smiles": test["smiles"]}),
                       pd.DataFrame(BAD_ROWS, columns=["id", "smiles"])], ignore_index=True)
    path = tmp_path_factory.mktemp("library") / "library.csv"
    frame.to_csv(path, index=False)
    return path


def test_screen_output_does_not_depend_on_the_chunk_size(solubility_model, library, tmp_path):
    from biodl.stages.screen import screen_library

    outs = {}
    for size in (7, 100_000):
        out = tmp_path / f"chunk{size}"
        summary = screen_library(solubility_model, library, out, id_col="id", acquisition="ucb", top=40, picks=8,
                                 chunk_size=size, progress=False)
        outs[size] = out
        assert summary["counts"]["read"] == 262 and summary["hits"] == 8
    for name in ("screened.csv", "candidates.csv", "hits.csv"):
        assert (outs[7] / name).read_bytes() == (outs[100_000] / name).read_bytes(), name
    screened = pd.read_csv(outs[7] / "screened.csv", keep_default_na=False).set_index("id")
    assert len(screened) == 262  # every record, rejects too
    assert "invalid SMILES" in screened.loc["bad-syntax", "reject_reason"]
    assert screened.loc["empty", "reject_reason"] != ""
    assert "no organic fragment" in screened.loc["inorganic", "reject_reason"]
    assert "pains: ene_rhod" in screened.loc["rhodanine", "alerts"]
    assert screened.loc["acetate-salt", "smiles"] == "CC(=O)O" and screened.loc["acetate-salt", "prediction"] != ""
    hits = pd.read_csv(outs[7] / "hits.csv", keep_default_na=False)
    assert "rhodanine" not in set(hits["id"]) and (hits["alerts"] == "").all()
    assert hits["pick"].tolist() == list(range(1, 9)) and hits["rank"].iloc[0] == 1  # MaxMin starts at the best
    # the candidates are the best scores among records that passed: every hit's score is in the top 40
    passed = screened[screened["passes_filters"].astype(str) == "True"]
    cutoff = np.sort(passed["score"].astype(float).to_numpy())[::-1][39]
    assert (hits["score"].astype(float) >= cutoff).all()


def test_screen_reads_smiles_and_gzip_and_names_structural_faults(solubility_model, library, tmp_path):
    from biodl.stages.screen import screen_library

    frame = pd.read_csv(library, keep_default_na=False)
    smi = tmp_path / "library.smi.gz"
    with gzip.open(smi, "wt") as handle:
        for row in frame.itertuples():
            handle.write(f"{row.smiles} {row.id}\n" if row.smiles else "\n")  # a blank line is no record
    screen_library(solubility_model, smi, tmp_path / "smi", top=40, picks=8, progress=False)
    screen_library(solubility_model, library, tmp_path / "csv", id_col="id", top=40, picks=8, progress=False)
    a = pd.read_csv(tmp_path / "smi" / "screened.csv", keep_default_na=False).set_index("id")
    b = pd.read_csv(tmp_path / "csv" / "screened.csv", keep_default_na=False).set_index("id").drop(index="empty")
    assert a.index.tolist() == b.index.tolist()
    assert np.allclose(a["prediction"].replace("", np.nan).astype(float), b["prediction"].replace("", np.nan).astype(float),
                       equal_nan=True)
    sdf = tmp_path / "library.sdf.gz"
    with gzip.open(sdf, "wt") as handle:
        writer = Chem.SDWriter(handle)
        for row in frame.head(30).itertuples():
            mol = Chem.MolFromSmiles(row.smiles)
            mol.SetProp("_Name", row.id)
            writer.write(mol)
        writer.close()
        handle.write("not a molecule\n$$$$\n")  # a broken record: a row with its reason, not a stop
    screen_library(solubility_model, sdf, tmp_path / "sdf", top=10, picks=2, progress=False)
    c = pd.read_csv(tmp_path / "sdf" / "screened.csv", keep_default_na=False)
    assert len(c) == 31 and c["reject_reason"].iloc[-1] == "unreadable SDF record"
    assert c["id"].iloc[:30].tolist() == a.index[:30].tolist()
    assert np.allclose(c["prediction"].iloc[:30].astype(float), a["prediction"].iloc[:30].astype(float))
    with pytest.raises(UserError, match="no column 'smile'"):
        screen_library(solubility_model, library, tmp_path / "x", smiles_col="smile", progress=False)
    with pytest.raises(UserError, match="not found"):
        screen_library(solubility_model, tmp_path / "missing.csv", tmp_path / "x", progress=False)
    with pytest.raises(UserError, match="unknown alert catalog"):
        screen_library(solubility_model, library, tmp_path / "x", catalogs=["painz"], progress=False)
    assert not (tmp_path / "x").exists()  # nothing written when the screen could not start


def test_shards_gathered_equal_one_screen(solubility_model, library, tmp_path):
    """Three shards of 7-record chunks, joined: the same screened, candidate and hit files as one
    unsharded screen; a missing shard or another setting is one line."""
    from biodl.cli import main
    from biodl.stages.screen import gather_screens, screen_library

    options = {"id_col": "id", "top": 40, "picks": 8, "chunk_size": 7, "progress": False}
    screen_library(solubility_model, library, tmp_path / "whole", **options)
    shards = [tmp_path / f"shard{i}" for i in range(3)]
    for i, folder in enumerate(shards):
        summary = screen_library(solubility_model, library, folder, shard=(i, 3), **options)
        assert "hits" not in summary and not (folder / "hits.csv").exists()
    gathered = gather_screens(shards[::-1], tmp_path / "gathered", picks=8)  # any order of folders
    for name in ("screened.csv", "candidates.csv", "hits.csv"):
        assert (tmp_path / "gathered" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert gathered["counts"] == whole["counts"] and gathered["shards"] == 3
    # more shards than chunks: the empty shards change nothing (a 9-record library in chunks of 7)
    small = tmp_path / "small.csv"
    pd.read_csv(library).head(9).to_csv(small, index=False)
    screen_library(solubility_model, small, tmp_path / "small_whole", **options)
    few = [tmp_path / f"few{i}" for i in range(4)]
    for i, folder in enumerate(few):
        screen_library(solubility_model, small, folder, shard=(i, 4), **options)
    gather_screens(few, tmp_path / "small_gathered", picks=8)
    for name in ("screened.csv", "candidates.csv", "hits.csv"):
        assert (tmp_path / "small_gathered" / name).read_bytes() == (tmp_path / "small_whole" / name).read_bytes()
    with pytest.raises(UserError, match="missing: 1"):
        gather_screens([shards[0], shards[2]], tmp_path / "x")
    screen_library(solubility_model, library, tmp_path / "other", shard=(1, 3), **{**options, "top": 30})
    with pytest.raises(UserError, match="other settings"):
        gather_screens([shards[0], tmp_path / "other", shards[2]], tmp_path / "x")
    assert main(["screen", "--model", str(solubility_model), "--library", str(library), "--shard", "3/3",
                 "-o", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_in_domain_only_and_the_default_catalogs(solubility_model, library, tmp_path):
    from biodl.screening import DEFAULT_CATALOGS
    from biodl.spec import ScreenSpec
    from biodl.stages.screen import screen_library

    summary = screen_library(solubility_model, library, tmp_path / "in", id_col="id", top=40, picks=5,
                             in_domain_only=True, progress=False)
    candidates = pd.read_csv(tmp_path / "in" / "candidates.csv", keep_default_na=False)
    assert summary["catalogs"] == list(DEFAULT_CATALOGS) and 0 < len(candidates) <= summary["counts"]["in_domain"]
    assert (candidates["in_domain"].astype(str) == "True").all()
    assert ScreenSpec(experiment="e", library="l.smi").filters == list(DEFAULT_CATALOGS)  # the config's default


@pytest.fixture(scope="module")
def dropout_model(tmp_path_factory, solubility_model):
    """The solubility ECFP MLP with MC dropout for σ (masks drawn per call, seeded)."""
    from biodl.cli import main

    work = solubility_model.parent.parent
    out = tmp_path_factory.mktemp("mc") / "model"
    assert main(["train", "--name", "mc", "--features", str(work / "fs"), "--split", str(work / "split.json"),
                 "--experiment", json.dumps({"task": "regression",
                                             "model": {"type": "mlp", "hidden": [64], "dropout": 0.2},
                                             "train": {"epochs": 5, "progress": False},
                                             "uncertainty": {"method": "mc_dropout", "passes": 10}}),
                 "--progress", "0", "-o", str(out)]) == 0
    return out / "model.pt"


@pytest.mark.parametrize("which", ["variance_head", "mc_dropout"])
def test_worker_processes_and_shards_write_what_one_process_writes(solubility_model, dropout_model, library,
                                                                   tmp_path, which):
    """Two worker processes, and two shards gathered, give the files of one process screening the
    whole library, byte for byte — with MC dropout too, whose masks are drawn afresh (seeded) for
    each chunk, so a chunk's σ does not depend on which shard or worker screened it."""
    from biodl.stages.screen import gather_screens, screen_library

    model = solubility_model if which == "variance_head" else dropout_model
    options = {"id_col": "id", "top": 40, "picks": 8, "chunk_size": 25, "progress": False, "acquisition": "ucb"}
    screen_library(model, library, tmp_path / "one", **options)
    summary = screen_library(model, library, tmp_path / "workers", n_jobs=2, **options)
    for i in range(2):
        screen_library(model, library, tmp_path / f"shard{i}", shard=(i, 2), **options)
    gather_screens([tmp_path / "shard0", tmp_path / "shard1"], tmp_path / "gathered", picks=8)
    for name in ("screened.csv", "candidates.csv", "hits.csv"):
        one = (tmp_path / "one" / name).read_bytes()
        assert (tmp_path / "workers" / name).read_bytes() == one, name
        assert (tmp_path / "gathered" / name).read_bytes() == one, name
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert summary["counts"] == one["counts"]
    sigma = pd.read_csv(tmp_path / "one" / "screened.csv")["sigma"]
    assert sigma.notna().sum() > 200 and (sigma.dropna() > 0).all()


def test_cli_screen_writes_its_page_and_a_shard_has_none(solubility_model, library, tmp_path):
    from biodl.cli import main

    args = ["screen", "--model", str(solubility_model), "--library", str(library), "--id-col", "id", "--top", "40",
            "--picks", "8", "--quiet"]
    assert main([*args, "-o", str(tmp_path / "whole")]) == 0
    page = (tmp_path / "whole" / "report.html").read_text()
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    c = summary["counts"]
    for text in ("Screen: whole", f"{c['read']:,}", "pains", "brenk", "inpharmatica", "no organic fragment",
                 pd.read_csv(tmp_path / "whole" / "hits.csv", dtype=str)["id"].iloc[0]):
        assert text in page, text
    assert page.count('src="data:image/png;base64,') == 3 and "http://" not in page
    assert main([*args, "--shard", "0/2", "-o", str(tmp_path / "shard")]) == 0
    assert not (tmp_path / "shard" / "report.html").exists()
    assert main(["screen-report", str(tmp_path / "shard")]) == 2  # one line: gather the shards first
    assert main(["screen-report", str(tmp_path / "whole"), "-o", str(tmp_path / "page.html")]) == 0
    assert (tmp_path / "page.html").read_text() == page
