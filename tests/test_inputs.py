"""Raw inputs that lie: every bad record is a reject with its reason (never an error, never dropped);
a bad *file* is one UserError line naming it."""

from __future__ import annotations

import numpy as np
import pytest

from biodl.dataset import featurize_source
from biodl.errors import UserError
from biodl.sources import _read_frame, _read_frame_by_record, read_source
from tests.conftest import DATA


def _csv(path, **kw):
    return read_source({"format": "csv", "path": str(path), "input": "smiles", "id": "id", **kw})


def _reasons(table):
    return {r.index: r.reason for r in table.rejects}


# -- CSV ------------------------------------------------------------------------------------------
def test_non_finite_and_out_of_range_labels_are_rejects(write):
    path = write("y.csv", "id,smiles,a,b\n"
                          "m0,C,inf,1\nm1,CC,1,-inf\nm2,CCC,-Infinity,1\nm3,CCCC,1,1e39\nm4,CO,1e400,1\n"
                          "m5,CN,NaN,1\nm6,CS,,1\nm7,CF,2.5,-3\n")
    table = _csv(path, targets=["a", "b"])
    assert _reasons(table) == {
        0: "target 'a' is not a number: 'inf'",
        1: "target 'b' is not a number: '-inf'",
        2: "target 'a' is not a number: '-Infinity'",
        3: "target 'b' is out of the float32 range: '1e39'",
        4: "target 'a' is not a number: '1e400'",
        5: "target 'a' is not a number: 'NaN'",
    }
    assert np.isnan(table.y[6, 0]) and table.y[6, 1] == 1  # a blank is a missing label, not a reject
    assert table.y[7].tolist() == [2.5, -3.0]


def test_short_and_long_rows_are_rejects_with_their_line(write):
    path = write("rows.csv", "id,smiles,y\nm0,CCO,1\nm1,CCN\n\nm2,CCC,3,extra\nm3,CCCl,4\nm4,C,\n")
    table = _csv(path, targets=["y"])
    assert _reasons(table) == {1: "line 3 has 2 fields, the header has 3",
                               2: "line 5 has 4 fields, the header has 3"}
    assert table.ids == ["m0", "m1", "m2", "m3", "m4"]
    assert table.inputs[3] == "CCCl" and table.y[3, 0] == 4
    assert np.isnan(table.y[4, 0]) and 4 not in _reasons(table)  # a blank last field is a missing label


def test_a_long_first_row_does_not_shift_the_columns(write):
    # pandas would take 'm0', 'm1' as an index and read smiles from the id column
    path = write("shift.csv", "id,smiles,y\nm0,CCO,1,x\nm1,CCN,2\n")
    table = _csv(path, targets=["y"])
    assert table.inputs == ["CCO", "CCN"] and table.y[1, 0] == 2
    assert _reasons(table) == {0: "line 2 has 4 fields, the header has 3"}


@pytest.mark.parametrize("name", ["molecules/freesolv.csv", "molecules/solubility_test.csv"])
def test_record_reader_reads_well_formed_files_as_pandas_does(name, tmp_path):
    import pandas as pd

    fast, bad = _read_frame(DATA / name, ",")
    assert bad == {}
    slow, bad = _read_frame_by_record(DATA / name, ",")
    assert bad == {}
    pd.testing.assert_frame_equal(slow, fast, check_dtype=False)
    # with blanks in the last column (how a short row shows) the file goes the record way
    text = (DATA / name).read_text().splitlines()
    blanked = tmp_path / "blank_last.csv"
    blanked.write_text("\n".join([text[0]] + [line.rsplit(",", 1)[0] + "," if i % 7 == 0 else line
                                              for i, line in enumerate(text[1:])]) + "\n")
    frame, bad = _read_frame(blanked, ",")
    assert bad == {} and frame.iloc[:, -1].isna().sum() == len(range(0, len(text) - 1, 7))
    pd.testing.assert_frame_equal(frame, pd.read_csv(blanked, dtype=str, keep_default_na=False,
                                                     na_values=[""]), check_dtype=False)


def test_featurized_counts_include_short_rows(tmp_path, write):
    path = write("x.csv", "id,smiles,y\na,CCO,1\nb,CCN\nc,CCC,inf\n")
    ds = featurize_source({"format": "csv", "path": str(path), "id": "id", "targets": ["y"]}, "ecfp",
                          tmp_path / "out", progress=False)
    assert ds.ids == ["a"]
    assert ds.rejects["reason"].tolist() == ["line 3 has 2 fields, the header has 3",
                                             "target 'y' is not a number: 'inf'"]
    assert ds.rejects["stage"].tolist() == ["read", "read"]


# -- FASTA ----------------------------------------------------------------------------------------
def test_bare_header_line_in_fasta_is_a_reject_not_dropped(write):
    path = write("a.fa", "\n>chr1:1-5\nACGTA\n>\n>chr1:9-13\nACGTT\nAA\n>\n")
    table = read_source({"format": "fasta", "path": str(path)})
    assert len(table) == 4
    assert table.inputs == ["ACGTA", "", "ACGTTAA", ""]
    assert _reasons(table) == {1: "empty FASTA header", 3: "empty FASTA header"}


def test_empty_fasta_and_bad_file_label_are_user_errors(write):
    empty, good = write("empty.fa", "\n\n"), write("good.fa", ">a\nACGT\n")
    with pytest.raises(UserError, match=r"empty.fa: no FASTA records"):
        read_source({"format": "fasta", "files": [{"path": str(good)}, {"path": str(empty)}]})
    for label in ("bound", "inf", None):
        with pytest.raises(UserError, match=r"label of .*good.fa must be a finite number"):
            read_source({"format": "fasta", "target": "t", "files": [{"path": str(good), "label": label}]})


# -- SDF ------------------------------------------------------------------------------------------
def _sdf(path, records):
    from rdkit import Chem

    with Chem.SDWriter(str(path)) as writer:
        for props in records:
            mol = Chem.MolFromSmiles(props.pop("smiles", "CCO"))
            for k, v in props.items():
                mol.SetProp(k, v)
            writer.write(mol)
    return path


def test_sdf_labels_and_ids_that_lie(tmp_path):
    path = _sdf(tmp_path / "m.sdf", [
        {"ID": "1", "A": "0.5", "B": "1"},
        {"ID": "2", "A": "inf", "B": "1"},
        {"ID": "3", "A": "nan", "B": "x"},  # two bad targets: one reject, the first reason
        {"ID": "", "A": "1", "B": "1"},
        {"ID": "5", "A": "", "B": "2"},
    ])
    table = read_source({"format": "sdf", "path": str(path), "id": "ID", "targets": ["A", "B"]})
    assert _reasons(table) == {1: "target 'A' is not a number: 'inf'", 2: "target 'A' is not a number: 'nan'",
                               3: "empty id in property 'ID'"}
    assert np.isnan(table.y[4, 0]) and table.y[4, 1] == 2
    ds = featurize_source({"format": "sdf", "path": str(path), "id": "ID", "targets": ["A", "B"]}, "ecfp",
                          tmp_path / "out", progress=False)
    assert ds.ids == ["1", "5"] and len(ds.rejects) == 3


def test_sdf_missing_id_property_is_a_user_error(tmp_path):
    path = _sdf(tmp_path / "m.sdf", [{"A": "1"}])
    with pytest.raises(UserError, match=r"m.sdf: property 'ID' not found in the first record"):
        read_source({"format": "sdf", "path": str(path), "id": "ID", "targets": ["A"]})


# -- image folders --------------------------------------------------------------------------------
def _image(path, value=0):
    import tifffile

    tifffile.imwrite(path, (np.arange(32 * 32).reshape(32, 32) % 251 + value).astype(np.uint8))


def test_non_image_files_in_an_image_folder_are_not_inputs(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("a.tif", "b.TIF"):
        _image(folder / name)
    from PIL import Image

    Image.new("L", (16, 16), 7).save(folder / "c.png")
    Image.new("L", (16, 16)).save(folder / "d.bmp")  # an image, but not one we read: a reject
    (folder / "labels.csv").write_text("file,n\na.tif,1\nb.TIF,2\nc.png,3\nd.bmp,4\n")
    (folder / "README").write_text("how these were taken\n")
    (folder / "notes.md").write_text("# notes\n")
    ds = featurize_source({"format": "images", "path": str(folder), "labels": str(folder / "labels.csv"),
                           "targets": ["n"]}, {"type": "image", "size": 16}, tmp_path / "out", progress=False)
    assert ds.ids == ["a.tif", "b.TIF"]
    assert ds.rejects["id"].tolist() == ["c.png", "d.bmp"]  # c.png is constant
    assert "unsupported extension '.bmp'" in ds.rejects["reason"].iloc[1]
    counts = ds.manifest["counts"]
    assert (counts["in"], counts["kept"], counts["rejected"]) == (4, 2, 2)
    assert ds.manifest["skipped_files"]["names"] == ["README", "labels.csv", "notes.md"]
    assert any(i["path"].endswith("labels.csv") for i in ds.manifest["inputs"])  # its sha256 is recorded


def test_labels_csv_rows_that_lie(tmp_path, write):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for k, name in enumerate(("a.tif", "b.tif", "c.tif", "d.tif", "e.tif")):
        _image(folder / name, k)
    labels = write("labels.csv", "file,n\na.tif,1\nb.tif,inf\nc.tif\nd.tif,4\nd.tif,5\ne.tif,5\ngone.tif,6\n,7\n")
    table = read_source({"format": "images", "path": str(folder), "labels": str(labels), "targets": ["n"]})
    reasons = {table.ids[r.index]: r.reason for r in table.rejects}
    assert reasons == {
        "b.tif": f"labels file {labels}, row 1: target 'n' is not a number: 'inf'",
        "c.tif": f"labels file {labels}, row 2: line 4 has 1 fields, the header has 2",
        "d.tif": f"2 rows for 'd.tif' in labels file {labels} (rows 3, 4)",
        "": f"labels file {labels}, row 7: no file name in column 'file'",
        "gone.tif": f"listed in labels file {labels}, but {folder} has no image file of that name",
    }
    assert table.y[0, 0] == 1 and table.y[4, 0] == 5
    assert len(table) == 7 and table.y.shape == (7, 1)
