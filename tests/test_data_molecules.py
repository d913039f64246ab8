"""The vendored MoleculeNet files (Tox21, ESOL, MUV) through biodl's own CSV source and featurizer.

Blanks are missing labels: NaN in ``RawTable.y`` and in ``y.npy``, never 0. The raw blanks are
counted with the csv module, independently of pandas. ``tests/test_data_files.py`` checks hashes,
headers and counts with the standard library only.
"""

from __future__ import annotations

import csv
import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest

from biodl.dataset import featurize_source, load_dataset
from biodl.errors import UserError
from biodl.sources import read_source
from tests.test_data_files import BLANKS, ESOL_PREDICTED, ESOL_TARGET, MUV_TASKS, TOX21_TASKS

DATA = Path(__file__).resolve().parents[1] / "data" / "molecules"
TOX21, MUV, ESOL = DATA / "tox21.csv.gz", DATA / "muv.csv.gz", DATA / "delaney-processed.csv"
ECFP = {"type": "ecfp", "radius": 2, "n_bits": 1024}

#: the Tox21 rows RDKit cannot sanitize: hexavalent aluminium written as [AlH3] (data/README.md)
TOX21_REJECTS = {1330: "TOX31563", 2308: "TOX24724", 2315: "TOX24723", 3599: "TOX24552", 4632: "TOX24622",
                 4716: "TOX7518", 5627: "TOX28892", 6859: "TOX28623"}


def _raw(path: Path) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


def _source(path: Path, tasks: list[str], id_col: str = "mol_id") -> dict:
    return {"format": "csv", "path": str(path), "input": "smiles", "id": id_col, "targets": tasks}


@pytest.mark.parametrize("path, tasks", [(TOX21, TOX21_TASKS), (MUV, MUV_TASKS)], ids=["tox21", "muv"])
def test_csv_source_reads_gzip_and_keeps_blanks_as_nan(path, tasks):
    header, rows = _raw(path)
    table = read_source(_source(path, tasks))
    assert len(table) == len(rows) and table.tasks == tasks and table.rejects == []
    assert table.ids == [r[header.index("mol_id")] for r in rows]
    assert table.inputs == [r[header.index("smiles")] for r in rows]
    for j, task in enumerate(tasks):
        col = [r[header.index(task)] for r in rows]
        blank = np.array([v == "" for v in col])
        nan = np.isnan(table.y[:, j])
        assert nan.sum() > 0, f"{task}: no missing labels"
        assert (nan == blank).all(), f"{task}: NaN where the file has a value, or a value where it is blank"
        assert nan.sum() == BLANKS[f"molecules/{path.name}"][j]
        labelled = table.y[~nan, j]
        assert set(np.unique(labelled).tolist()) == {0.0, 1.0}, f"{task}: labels other than 0/1"
        assert (labelled == np.array([float(v) for v in col if v])).all()
    missing = np.isnan(table.y).mean(axis=0)
    expected = 0.08 if path == TOX21 else 0.84  # Tox21: 7-26 % per task; MUV: ~84 % per task
    assert (missing > expected - 0.08).all() and (missing < expected + 0.2).all()


def test_esol_source_target_column():
    header, rows = _raw(ESOL)
    assert ESOL_PREDICTED in header  # present in the file, and never a target or feature here
    table = read_source(_source(ESOL, [ESOL_TARGET], id_col="Compound ID"))
    assert table.tasks == [ESOL_TARGET] and table.rejects == [] and len(table) == 1128
    measured = np.array([float(r[header.index(ESOL_TARGET)]) for r in rows], np.float32)
    predicted = np.array([float(r[header.index(ESOL_PREDICTED)]) for r in rows], np.float32)
    assert not np.isnan(table.y).any()
    assert (table.y[:, 0] == measured).all() and not (table.y[:, 0] == predicted).all()


@pytest.fixture(scope="module")
def tox21_ecfp(tmp_path_factory):
    return featurize_source(_source(TOX21, TOX21_TASKS), ECFP, tmp_path_factory.mktemp("tox21") / "ecfp",
                            progress=False)


def test_tox21_rdkit_failures_are_rejects_with_reasons(tox21_ecfp):
    ds = load_dataset(tox21_ecfp.path)
    rejects = ds.rejects
    assert dict(zip(rejects["row"], rejects["id"])) == TOX21_REJECTS
    assert (rejects["stage"] == "featurize").all()
    assert rejects["reason"].str.contains(r"RDKit sanitization failed: Explicit valence .* Al, 6").all()
    assert ds.manifest["counts"] == {"in": 8014, "kept": 8006, "rejected": 8,
                                     "rejected_by_reason": {"RDKit sanitization failed": 8}}


def test_tox21_featurized_y_keeps_nan(tox21_ecfp):
    _, rows = _raw(TOX21)
    ds = load_dataset(tox21_ecfp.path)
    y = np.load(ds.path / "y.npy")
    kept = ds.meta["row"].to_numpy()
    blank = np.array([[rows[i][j] == "" for j in range(len(TOX21_TASKS))] for i in kept])
    assert y.dtype == np.float32 and (np.isnan(y) == blank).all()
    assert ds.manifest["y"]["missing"] == dict(zip(TOX21_TASKS, blank.sum(axis=0).tolist()))
    assert set(np.unique(y[~np.isnan(y)]).tolist()) == {0.0, 1.0}
    assert ds.X.shape == (8006, 1024)


def test_muv_subset_featurized_keeps_nan(tmp_path):
    """A few hundred MUV rows, written gzip-compressed again, through featurize_source: y.npy has NaN
    exactly where the file is blank (positives included so that 1s are there too)."""
    header, rows = _raw(MUV)
    positives = [i for i, r in enumerate(rows) if i >= 250 and "1" in r[: len(MUV_TASKS)]][:50]
    picked = list(range(250)) + positives
    path = tmp_path / "muv_subset.csv.gz"
    with gzip.open(path, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows[i] for i in picked)
    ds = featurize_source(_source(path, MUV_TASKS), ECFP, tmp_path / "ecfp", progress=False)
    y = np.load(ds.path / "y.npy")
    blank = np.array([[rows[i][j] == "" for j in range(len(MUV_TASKS))] for i in picked])
    assert len(y) == len(picked) == 300 and ds.manifest["counts"]["rejected"] == 0
    assert (np.isnan(y) == blank).all() and 0 < np.isnan(y).sum() < y.size
    assert np.nansum(y) >= 50 and set(np.unique(y[~np.isnan(y)]).tolist()) == {0.0, 1.0}


def test_esol_featurizes_without_rejects(tmp_path):
    ds = featurize_source(_source(ESOL, [ESOL_TARGET], id_col="Compound ID"), ECFP, tmp_path / "ecfp",
                          progress=False)
    assert ds.manifest["counts"]["kept"] == 1128 and ds.manifest["counts"]["rejected"] == 0
    assert not np.isnan(np.load(ds.path / "y.npy")).any()


# the CSV source's record-by-record path (taken when the last column has blanks or a row is short)
# must read compressed files too

def test_gzip_csv_with_blank_last_column_and_short_row(tmp_path):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("id,smiles,a,b\nm1,CCO,1,\nm2,CCN,0,1\nm3,CC\n")
    table = read_source({"format": "csv", "path": str(path), "input": "smiles", "id": "id", "targets": ["a", "b"]})
    assert np.isnan(table.y[0, 1]) and table.y[1].tolist() == [0.0, 1.0]
    assert [(r.index, r.reason) for r in table.rejects] == [(2, "line 4 has 2 fields, the header has 4")]


def test_gzip_tsv_gets_tab_separator(tmp_path):
    path = tmp_path / "t.tsv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("id\tsmiles\ta\nm1\tCCO\t1\nm2\tCCN\t\n")
    table = read_source({"format": "csv", "path": str(path), "input": "smiles", "id": "id", "targets": ["a"]})
    assert table.inputs == ["CCO", "CCN"] and table.y[0, 0] == 1 and np.isnan(table.y[1, 0])


def test_zip_csv_needing_row_checks_is_one_line_error(tmp_path):
    path = tmp_path / "t.csv.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("t.csv", "id,smiles,a,b\nm1,CCO,1,\n")
    with pytest.raises(UserError, match="cannot check its rows one by one"):
        read_source({"format": "csv", "path": str(path), "input": "smiles", "id": "id", "targets": ["a", "b"]})
