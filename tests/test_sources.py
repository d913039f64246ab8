import subprocess
import sys

import numpy as np
import pytest

from biodl.dataset import featurize_source
from biodl.errors import UserError
from biodl.sources import parse_fasta, read_source
from tests.conftest import run_cli


def test_import_biodl_stays_light():
    code = ("import sys, biodl, biodl.cli, biodl.featurizers, biodl.dataset, biodl.sources; "
            "print(sorted(m for m in ('torch', 'rdkit', 'deepchem', 'pandas', 'tifffile', 'skimage') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_multiline_and_crlf_fasta(write):
    path = write("m.fa", ">chr1:1-9 first\r\nACGT\r\nacgtA\r\n\r\n>second\nAC\nGT\n")
    headers, seqs = parse_fasta(path)
    assert headers == ["chr1:1-9 first", "second"]
    assert seqs == ["ACGTacgtA", "ACGT"]


def test_not_fasta_is_a_user_error(write):
    with pytest.raises(UserError, match="not a FASTA file"):
        parse_fasta(write("x.fa", "ACGT\n"))


def test_fasta_labels_for_some_files_only(write):
    a, b = write("a.fa", ">a\nAC\n"), write("b.fa", ">b\nAC\n")
    with pytest.raises(UserError, match="give a label for every file or for none"):
        read_source({"format": "fasta", "target": "t", "files": [{"path": str(a), "label": 1}, {"path": str(b)}]})


def test_sdf_source(tmp_path):
    from rdkit import Chem

    path = tmp_path / "m.sdf"
    with Chem.SDWriter(str(path)) as writer:
        for ident, smi, sol in [("1", "CCO", "0.5"), ("2", "c1ccccc1", ""), ("3", "CCN", "high")]:
            mol = Chem.MolFromSmiles(smi)
            mol.SetProp("ID", ident)
            mol.SetProp("SOL", sol)
            writer.write(mol)
    ds = featurize_source({"format": "sdf", "path": str(path), "id": "ID", "targets": ["SOL"]}, "ecfp",
                          tmp_path / "out")
    assert ds.meta["id"].tolist() == ["1", "2"]
    assert np.isnan(ds.y[1, 0]) and ds.y[0, 0] == 0.5
    assert ds.rejects["reason"].tolist() == ["target 'SOL' is not a number: 'high'"]


def test_images_with_labels_csv_and_missing_label(tmp_path, write):
    import tifffile

    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("a.tif", "b.tif", "c.tif"):
        tifffile.imwrite(folder / name, (np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8))
    (folder / "broken.png").write_bytes(b"not a png")
    labels = write("labels.csv", "file,n_cells\na.tif,3\nb.tif,\nbroken.png,2\n")
    ds = featurize_source({"format": "images", "path": str(folder), "labels": str(labels), "id": "file",
                           "targets": ["n_cells"]}, {"type": "image", "size": [32, 32]}, tmp_path / "out")
    assert ds.meta["id"].tolist() == ["a.tif", "b.tif"]
    assert ds.X.shape == (2, 1, 32, 32)
    assert ds.y[0, 0] == 3 and np.isnan(ds.y[1, 0])
    reasons = dict(zip(ds.rejects["id"], ds.rejects["reason"]))
    assert reasons["c.tif"].startswith("no row for 'c.tif' in labels file")
    assert "broken.png" in reasons and ds.rejects.set_index("id").loc["broken.png", "stage"] == "featurize"


def test_cli_simulate_then_featurize_cells(tmp_path):
    code, _, err = run_cli("simulate-cells", "-o", tmp_path / "cells", "--counts", "1-3", "--sites", "2",
                           "--blurs", "1,48", "--size", "64")
    assert code == 0, err
    code, _, err = run_cli("featurize", tmp_path / "cells", "--labels", "bbbc005", "--featurizer", "image",
                           "--param", "size=[64, 64]", "-o", tmp_path / "ds")
    assert code == 0, err
    from biodl.dataset import load_dataset

    ds = load_dataset(tmp_path / "ds")
    assert ds.X.shape == (12, 1, 64, 64)
    assert sorted(set(ds.y[:, 0].tolist())) == [1.0, 2.0, 3.0]
    assert ds.meta["scene"].nunique() == 6


def test_unknown_format_and_missing_image_folder(tmp_path):
    with pytest.raises(UserError, match="unknown source format 'xls'"):
        read_source({"format": "xls"})
    with pytest.raises(UserError, match="image folder not found"):
        read_source({"format": "images", "path": str(tmp_path / "none")})


def test_gzip_fasta_with_labels_in_header_fields(tmp_path):
    import gzip

    path = tmp_path / "w.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(">chr22:1-5 jund=1\nACGTA\n>chr22:5-9 jund=0 other=2\nACGTT\n>chr22:9-13|jund=x\nACGTC\n"
                 ">chr22:13-17\nACGTG\n>chr22:17-21 jund=inf\nAAAAA\n")
    table = read_source({"format": "fasta", "path": str(path), "header_targets": ["jund"]})
    assert table.tasks == ["jund"] and table.inputs[:2] == ["ACGTA", "ACGTT"]
    np.testing.assert_array_equal(table.y[:2, 0], [1, 0])
    assert np.isnan(table.y[3, 0])  # no field: a missing label, as a blank CSV cell
    assert {r.index: r.reason for r in table.rejects} == {
        2: "header field jund='x' is not a finite number", 4: "header field jund='inf' is not a finite number"}
    assert table.meta["start"].to_pylist()[:2] == [1, 5]


def test_header_field_no_record_has_and_corrupt_gzip_are_user_errors(tmp_path, write):
    path = write("w.fa", ">chr1:1-5 jund=1\nACGTA\n")
    with pytest.raises(UserError, match=r"w.fa: no FASTA header has a field 'JUND='"):
        read_source({"format": "fasta", "path": str(path), "header_targets": ["JUND"]})
    with pytest.raises(UserError, match="not both"):
        read_source({"format": "fasta", "target": "t", "header_targets": ["jund"],
                     "files": [{"path": str(path), "label": 1}]})
    bad = tmp_path / "bad.fa.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(UserError, match=r"bad.fa.gz: cannot decompress"):
        parse_fasta(bad)
