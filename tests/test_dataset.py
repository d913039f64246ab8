
import numpy as np
import pytest

from biodl.dataset import featurize_source, load_dataset
from biodl.errors import UserError
from tests.conftest import DATA, run_cli

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


# -- complete or absent ---------------------------------------------------------------------------
def test_stale_temporaries_of_a_killed_featurize_are_removed(tmp_path, write):
    path = write("a.csv", "smiles\nCCO\n")
    out = tmp_path / "fs" / "ecfp"
    out.parent.mkdir()
    stale = out.parent / ".ecfp.tmp-1a2b3c4d"  # what a featurize killed half-way leaves
    stale.mkdir()
    (stale / "X.npy").write_bytes(b"half")
    (out.parent / ".ecfp.old-5e6f7a8b").mkdir()
    (out.parent / ".other.tmp-00000000").mkdir()  # another output's temporary: not ours to remove
    featurize_source({"format": "csv", "path": str(path)}, "ecfp", out, progress=False)
    assert sorted(p.name for p in out.parent.iterdir()) == [".other.tmp-00000000", "ecfp"]


# -- files that lie -------------------------------------------------------------------------------
@pytest.fixture
def dataset(tmp_path):
    src = {"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles", "id": "id",
           "targets": ["expt"]}
    featurize_source(src, {"type": "ecfp", "n_bits": 256}, tmp_path / "ds", progress=False)
    return tmp_path / "ds"


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _one_line_error(fn, name):
    with pytest.raises(UserError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message and name in message, message
    return message


@pytest.mark.parametrize("name", ["X.npy", "y.npy", "meta.parquet", "manifest.json"])
@pytest.mark.parametrize("mmap", [True, False])
def test_truncated_file_is_one_line_naming_it(dataset, name, mmap):
    _truncate(dataset / name)
    message = _one_line_error(lambda: load_dataset(dataset, mmap=mmap), str(dataset / name))
    assert "featurize again" in message


@pytest.mark.parametrize("name", ["X.npy", "y.npy", "meta.parquet", "manifest.json"])
def test_empty_or_garbage_file_is_one_line_naming_it(dataset, name):
    (dataset / name).write_bytes(b"")
    _one_line_error(lambda: load_dataset(dataset), str(dataset / name))
    (dataset / name).write_bytes(b"\x93NUMPY garbage PAR1 {" * 10)
    _one_line_error(lambda: load_dataset(dataset), str(dataset / name))


def test_truncated_rejects_csv_is_one_line_when_read(tmp_path, write):
    path = write("x.csv", "id,smiles\n" + "".join(f"r{i},not_a_smiles_{i}\n" for i in range(40)) + "z,CCO\n")
    featurize_source({"format": "csv", "path": str(path), "id": "id"}, "ecfp", tmp_path / "ds", progress=False)
    rejects = tmp_path / "ds" / "rejects.csv"
    lines = rejects.read_text().splitlines(keepends=True)
    rejects.write_text("".join(lines[:20]))  # cut at a line end: still a valid CSV
    ds = load_dataset(tmp_path / "ds")
    _one_line_error(lambda: ds.rejects, str(rejects))
    rejects.write_text('row,id,input,stage,reason\n1,"r1,not')  # cut inside a quoted field
    _one_line_error(lambda: load_dataset(tmp_path / "ds").rejects, str(rejects))


def test_row_counts_that_disagree_name_the_file(dataset):
    import pyarrow.parquet as pq

    y = np.load(dataset / "y.npy")
    np.save(dataset / "y.npy", y[:-1])
    assert "642 rows" in _one_line_error(lambda: load_dataset(dataset), str(dataset / "y.npy"))
    np.save(dataset / "y.npy", y)
    table = pq.read_table(dataset / "meta.parquet")
    pq.write_table(table.slice(0, 600), dataset / "meta.parquet")
    assert "600 rows" in _one_line_error(lambda: load_dataset(dataset), str(dataset / "meta.parquet"))
    pq.write_table(table, dataset / "meta.parquet")
    X = np.load(dataset / "X.npy")
    np.save(dataset / "X.npy", X[:10])
    _one_line_error(lambda: load_dataset(dataset), str(dataset / "X.npy"))
    np.save(dataset / "X.npy", X)
    assert len(load_dataset(dataset).meta) == 642


def test_cli_reports_a_truncated_dataset_in_one_line(dataset, tmp_path):
    _truncate(dataset / "X.npy")
    code, _, err = run_cli("split", "--features", dataset, "--spec", '{"method": "random"}', "-o", tmp_path / "s.json")
    assert code == 2, err
    assert err.strip().count("\n") == 0 and "Traceback" not in err and "X.npy" in err


# -- progress -------------------------------------------------------------------------------------
def test_featurize_shows_rows_per_second_on_stderr(tmp_path, capsys):
    src = {"format": "csv", "path": str(DATA / "molecules" / "freesolv.csv"), "input": "smiles", "id": "id",
           "targets": ["expt"]}
    featurize_source(src, {"type": "ecfp", "n_bits": 64}, tmp_path / "fs" / "ecfp", name="freesolv")
    lines = capsys.readouterr().err.splitlines()
    # not a terminal: whole lines (no carriage-return redraws), the first and the last at least
    assert lines[0].startswith("featurize freesolv/ecfp:") and "0/642" in lines[0]
    assert "642/642" in lines[-1] and "rows/s" in lines[-1]
    assert not any("\r" in line for line in lines)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_progress_is_reported_per_chunk(n_jobs):
    import io

    from biodl.dataset import progress_bar
    from biodl.featurizers import ECFP

    featurizer = ECFP(n_bits=64, n_jobs=n_jobs)
    featurizer.chunk_size = 7  # 8 chunks
    stream = io.StringIO()
    bar = progress_bar(50, "featurize test/ecfp", file=stream, mininterval=0)
    result = featurizer.featurize(["CCO"] * 50, progress=bar.update)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(result.kept) == 50 and bar.n == 50
    assert len(lines) >= 3 and all("rows/s" in line for line in lines)  # start, chunks, end
    assert "50/50" in lines[-1]


# -- streaming to disk ----------------------------------------------------------------------------
def _tox21_with_bad_rows(write, n=600):
    """The first ``n`` Tox21 rows plus an empty SMILES (row 101) and a repeated id (row 302)."""
    import gzip

    lines = gzip.open(DATA / "molecules" / "tox21.csv.gz", "rt").read().splitlines()
    header, rows = lines[0], lines[1:n + 1]
    empty = "," * (header.count(",") - 1) + "TOX_EMPTY,"
    return write("tox_part.csv", "\n".join([header, *rows[:100], empty, *rows[100:300], rows[5], *rows[300:]]) + "\n")


@pytest.mark.parametrize("featurizer", [{"type": "ecfp", "n_bits": 512}, {"type": "rdkit_descriptors"},
                                        {"type": "smiles_tokens"}])
def test_streamed_blocks_give_the_in_memory_bytes(tmp_path, write, featurizer):
    """Features streamed block by block (7 rows, 100 rows, one block) are the bytes an in-memory
    featurize writes; meta.parquet differs only in its row groups (same table), and is the same
    bytes when the data is one block."""
    import pandas as pd

    from biodl import dataset as D
    from biodl.featurizers import make_featurizer
    from biodl.sources import read_source

    path = _tox21_with_bad_rows(write)
    src = {"format": "csv", "path": str(path), "input": "smiles", "id": "mol_id", "targets": ["NR-AR", "SR-p53"]}
    table = read_source(src)
    rejected = {r.index for r in table.rejects}
    candidates = np.array([i for i in range(len(table)) if i not in rejected], np.int64)
    D._featurize_in_memory(table, make_featurizer(featurizer), candidates, D._take(table.inputs, candidates),
                           tmp_path / "d" / "memory", src, "d", None)
    for block in (7, 100, None):
        D.featurize_source(src, featurizer, tmp_path / "d" / f"stream{block}", block_rows=block, progress=False)
    memory = tmp_path / "d" / "memory"
    ds = load_dataset(memory)
    assert ds.manifest["counts"]["rejected"] == 2 and len(ds) == 600  # the empty input, the duplicate id
    for block in (7, 100, None):
        streamed = tmp_path / "d" / f"stream{block}"
        for name in ("X.npy", "y.npy", "rejects.csv", "manifest.json"):
            assert (streamed / name).read_bytes() == (memory / name).read_bytes(), (block, name)
        pd.testing.assert_frame_equal(pd.read_parquet(streamed / "meta.parquet"), ds.meta)
    assert (tmp_path / "d" / "streamNone" / "meta.parquet").read_bytes() == (memory / "meta.parquet").read_bytes()
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "d" / "stream7" / "meta.parquet").num_row_groups == -(-len(candidates) // 7)


def test_a_featurize_killed_midway_leaves_nothing_and_a_rerun_is_clean(tmp_path, write):
    """SIGKILL while blocks are being appended: no dataset directory (only a temporary, which the
    rerun removes), and the rerun writes the same bytes as an undisturbed run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src = {"format": "csv", "path": str(DATA / "molecules" / "tox21.csv.gz"), "input": "smiles", "id": "mol_id",
           "targets": ["NR-AR"]}
    out = tmp_path / "tox" / "ecfp"
    script = ("import sys; from biodl.dataset import featurize_source; "
              f"featurize_source({src!r}, 'ecfp', {str(out)!r}, block_rows=200, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 120
    partial = None
    while time.monotonic() < deadline and proc.poll() is None:
        temps = list(out.parent.glob(".ecfp.tmp-*")) if out.parent.is_dir() else []
        if temps and (temps[0] / "X.npy").is_file() and (temps[0] / "X.npy").stat().st_size > 128 + 3 * 200 * 2048:
            partial = temps[0]
            break
        time.sleep(0.01)
    assert partial is not None, "the featurize finished before three blocks were on disk"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists() and partial.exists()
    featurize_source(src, "ecfp", out, block_rows=200, progress=False)
    assert sorted(p.name for p in out.parent.iterdir()) == ["ecfp"]
    featurize_source(src, "ecfp", tmp_path / "clean" / "ecfp", progress=False)
    for name in ("X.npy", "y.npy", "meta.parquet", "rejects.csv"):
        if name == "meta.parquet":
            import pandas as pd

            pd.testing.assert_frame_equal(pd.read_parquet(out / name), pd.read_parquet(tmp_path / "clean" / "ecfp" / name))
        else:
            assert (out / name).read_bytes() == (tmp_path / "clean" / "ecfp" / name).read_bytes(), name


def test_streamed_blocks_share_one_worker_pool(tmp_path, write, monkeypatch):
    """With workers, every streamed block is featurized by one pool (not a pool per block, whose
    start-up would dominate small blocks), and the files are those of one process."""
    import multiprocessing.context

    from biodl import dataset as D

    pools = []
    real_pool = multiprocessing.context.BaseContext.Pool

    def counting_pool(self, *args, **kwargs):
        pools.append(self.get_start_method())
        return real_pool(self, *args, **kwargs)

    monkeypatch.setattr(multiprocessing.context.BaseContext, "Pool", counting_pool)
    path = _tox21_with_bad_rows(write, n=300)
    src = {"format": "csv", "path": str(path), "input": "smiles", "id": "mol_id", "targets": ["NR-AR"]}
    spec = {"type": "ecfp", "n_bits": 256}
    D.featurize_source(src, spec, tmp_path / "one", block_rows=100, progress=False)
    assert pools == []
    D.featurize_source(src, spec, tmp_path / "two", n_jobs=2, block_rows=100, progress=False)
    assert len(pools) == 1, pools  # 3 blocks, 1 pool
    for name in ("X.npy", "y.npy", "rejects.csv", "manifest.json", "meta.parquet"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
