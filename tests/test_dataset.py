import json

import numpy as np
import pytest

from biodl.dataset import featurize_source, load_dataset
from biodl.errors import UserError
from tests.conftest import DATA, ROOT, run_cli

MULTITASK = """id,smiles,tox_a,tox_b
m1,CCO,1,0
m2,c1ccccc1,,1
m3,not_smiles,0,
m4,CCN,0,0
m1,CCC,1,1
m5,CCCl,inactive,1
m6,,1,1
"""


def test_csv_multitask_nan_labels_duplicates_and_rejects(tmp_path, write):
    path = write("tox.csv", MULTITASK)
    ds = featurize_source({"format": "csv", "path": str(path), "input": "smiles", "id": "id",
                           "targets": ["tox_a", "tox_b"]}, "ecfp", tmp_path / "out")
    assert ds.ids == ["m1", "m2", "m4"]
    assert ds.tasks == ["tox_a", "tox_b"]
    assert ds.y.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(ds.y), [[False, False], [True, False], [False, False]])
    rejects = ds.rejects.set_index("row")
    assert rejects.loc[2, "reason"] == "invalid SMILES syntax" and rejects.loc[2, "stage"] == "featurize"
    assert rejects.loc[4, "reason"] == "duplicate id 'm1' (first at row 0)"
    assert rejects.loc[5, "reason"] == "target 'tox_a' is not a number: 'inactive'"
    assert rejects.loc[6, "reason"] == "missing SMILES"
    counts = ds.manifest["counts"]
    assert counts == {"in": 7, "kept": 3, "rejected": 4, "rejected_by_reason": {
        "duplicate id 'm1'": 1, "target 'tox_a' is not a number": 1, "invalid SMILES syntax": 1,
        "missing SMILES": 1}}
    assert ds.manifest["y"]["missing"] == {"tox_a": 1, "tox_b": 0}
    assert sorted(ds.meta["row"].tolist() + ds.rejects["row"].tolist()) == list(range(7))


def test_manifest_records_provenance(tmp_path):
    src = {"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles", "id": "id",
           "targets": ["expt"]}
    ds = featurize_source(src, {"type": "ecfp", "n_bits": 1024}, tmp_path / "fs" / "ecfp", name="freesolv")
    m = ds.manifest
    assert m["dataset"] == "freesolv"
    assert m["featurizer"] == {"type": "ecfp", "radius": 2, "n_bits": 1024, "counts": False, "chirality": False}
    assert len(m["inputs"][0]["sha256"]) == 64
    assert m["versions"]["rdkit"] and m["versions"]["biodl"]
    assert m["X"] == {"shape": [642, 1024], "dtype": "uint8"}
    assert isinstance(load_dataset(ds.path).X, np.memmap)
    assert {"canonical_smiles", "scaffold", "n_fragments", "id", "input", "row"} <= set(ds.meta.columns)
    # complete or absent: no temporary directories left behind
    assert [p.name for p in (tmp_path / "fs").iterdir()] == ["ecfp"]


def test_rewrite_replaces_atomically(tmp_path, write):
    path = write("a.csv", "smiles\nCCO\nCCN\n")
    out = tmp_path / "ds"
    featurize_source({"format": "csv", "path": str(path)}, "ecfp", out)
    write("a.csv", "smiles\nCCO\n")
    ds = featurize_source({"format": "csv", "path": str(path)}, "ecfp", out)
    assert len(ds) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "ds"]


def test_fasta_headers_become_regions_and_unequal_lengths_are_rejected(tmp_path, write):
    a = write("a.fa", ">chr1:100-110 peak1\nACGTACGTAC\n>chr2:5-15\nacgtnnACGT\n>weird\nACG\n")
    b = write("b.fa", ">chrX:1-11\nACGTAC\nGTAC\n")
    ds = featurize_source({"format": "fasta", "target": "bound",
                           "files": [{"path": str(a), "label": 1}, {"path": str(b), "label": 0}]},
                          "onehot", tmp_path / "dna")
    assert ds.meta["chrom"].tolist() == ["chr1", "chr2", "chrX"]
    assert ds.meta["start"].tolist() == [100, 5, 1]
    assert ds.y[:, 0].tolist() == [1.0, 1.0, 0.0]
    assert ds.rejects["reason"].tolist() == ["length 3 != 10 (set resize: crop_pad to crop / pad)"]


def test_dna_from_csv(tmp_path, write):
    path = write("seqs.csv", "name,sequence,y\ns1,ACGT,1\ns2,ACGA,0\n")
    ds = featurize_source({"format": "csv", "path": str(path), "input": "sequence", "id": "name",
                           "targets": ["y"]}, {"type": "kmer", "k": 2}, tmp_path / "k")
    assert ds.X.shape == (2, 16) and ds.X.dtype == np.uint16


def test_missing_column_and_file_are_user_errors(tmp_path, write):
    path = write("x.csv", "id,smi\n1,CCO\n")
    with pytest.raises(UserError, match=r"x.csv: column 'smiles' not found \(columns: id, smi\)"):
        featurize_source({"format": "csv", "path": str(path)}, "ecfp", tmp_path / "o")
    with pytest.raises(UserError, match="input file not found: .*nope.csv"):
        featurize_source({"format": "csv", "path": str(tmp_path / "nope.csv")}, "ecfp", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_to_deepchem_roundtrip(tmp_path, write):
    pytest.importorskip("deepchem", reason="deepchem extra not installed (Python >= 3.12)")
    path = write("t.csv", MULTITASK)
    ds = featurize_source({"format": "csv", "path": str(path), "id": "id", "targets": ["tox_a", "tox_b"]},
                          "ecfp", tmp_path / "ds")
    dc_ds = ds.to_deepchem()
    np.testing.assert_array_equal(dc_ds.X, ds.X)
    np.testing.assert_array_equal(dc_ds.w, [[1, 1], [0, 1], [1, 1]])
    assert list(dc_ds.ids) == ds.ids
    disk = ds.to_deepchem(tmp_path / "dc")
    assert list(disk.get_task_names()) == ["tox_a", "tox_b"] and len(disk) == 3


def test_cli_featurize_and_one_line_errors(tmp_path, write):
    path = write("x.csv", "id,smiles,y\na,CCO,1.5\nb,XX,2\n")
    code, _, err = run_cli("featurize", path, "--id-col", "id", "--targets", "y", "--featurizer", "ecfp",
                           "--param", "n_bits=256", "-o", tmp_path / "out")
    assert code == 0, err
    assert "2 in, 1 kept, 1 rejected" in err
    ds = load_dataset(tmp_path / "out")
    assert ds.X.shape == (1, 256)

    code, out, err = run_cli("featurize", path, "--input-col", "smi", "--featurizer", "ecfp", "-o", tmp_path / "e")
    assert code == 2
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"{path}: column 'smi' not found" in err

    code, _, err = run_cli("featurize", tmp_path / "missing.csv", "--featurizer", "ecfp", "-o", tmp_path / "e")
    assert code == 2 and "input file not found" in err and err.strip().count("\n") == 0
