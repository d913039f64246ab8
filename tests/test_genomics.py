"""The genomics chapter's inputs (issue 12): header labels, gzip and RNA are in test_sources /
test_dna; here the genomic position-block split, on hand-made windows and on the book's JUND file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biodl.sources import read_source
from biodl.splits import PARTS, BlockSplitter, make_split
from tests.test_splits import check_partition, error

JUND = Path(__file__).resolve().parents[1] / "data" / "dna" / "jund_chr22_valid.fa.gz"


def windows(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def test_overlapping_and_touching_windows_stay_together_across_a_block_boundary():
    meta = windows([("chr1", 90, 110), ("chr1", 110, 130), ("chr1", 125, 145),  # a chain across 100
                    ("chr1", 146, 160),                                        # 1 bp apart: gap 0 keeps it apart
                    ("chr2", 90, 110), ("chr1", 500, 520), ("chr2", 500, 520)])
    codes = BlockSplitter(block_size=100).block_codes(meta)
    assert codes[0] == codes[1] == codes[2]  # the chain belongs to the block of its first base (0-99)
    assert codes[3] != codes[0]  # its own cluster, starting in block 100-199
    assert len({codes[0], codes[3], codes[4], codes[5], codes[6]}) == 5  # other chromosome or block
    wide = BlockSplitter(block_size=1000).block_codes(meta)
    assert wide[0] == wide[3] == wide[5] != wide[4]
    apart = BlockSplitter(block_size=1).block_codes(meta)
    assert apart[0] == apart[1] == apart[2] != apart[3]  # clusters themselves never split
    assert BlockSplitter(block_size=1, gap=1).block_codes(meta)[3] == apart[0]


def test_rows_without_coordinates_and_bad_params_are_one_line():
    meta = pd.DataFrame({"id": ["chr1:1-10", "no_coordinates", "chr1:20-30"]})
    assert "1 of 3 rows have no genomic interval (e.g. row 1)" in error(BlockSplitter(fractions=[0.4, 0.3, 0.3]).split, meta)
    assert "block_size must be an integer >= 1" in error(BlockSplitter, block_size=0)
    assert "gap must be an integer >= 0" in error(BlockSplitter, gap=-1)


@pytest.fixture(scope="module")
def jund():
    table = read_source({"format": "fasta", "path": str(JUND), "header_targets": ["jund"]})
    meta = pd.DataFrame({"id": table.ids, "input": table.inputs,
                         **{c: table.meta[c].to_numpy(zero_copy_only=False) for c in ("chrom", "start", "end")}})
    return meta, table.y


def test_jund_block_split_is_clean_by_the_interval_audit_and_a_random_split_is_not(jund):
    meta, y = jund
    blocks = make_split(meta, y, {"method": "blocks", "block_size": 100_000, "keep_positives": True,
                                  "fractions": [0.8, 0.1, 0.1], "seed": 0}, tasks=["jund"], modality="sequence")
    check_partition(blocks, len(meta))
    iv = blocks["audit"]["intervals"]
    assert iv["pairs"]["train-test"] == {"overlap": 0, "adjacent": 0}
    assert iv["test"]["overlap_train"] == iv["valid"]["overlap_train"] == 0
    assert "warnings" not in blocks  # both classes in every part
    for part in PARTS:
        assert 0 < np.nansum(y[blocks[part]]) < len(blocks[part])
    assert abs(len(blocks["test"]) / len(meta) - 0.1) < 0.03
    # the same file split at random: test windows touch training windows (the book's windows tile
    # the bound regions end to end, 101 bp apart: 3,440 of them touch their neighbour)
    rand = make_split(meta, y, {"method": "random", "seed": 0}, modality="sequence")
    assert rand["audit"]["intervals"]["test"]["adjacent_train"] > 100
    again = make_split(meta, y, {"method": "blocks", "block_size": 100_000, "keep_positives": True, "seed": 0},
                       tasks=["jund"], modality="sequence")
    assert again["test"] == blocks["test"]
    other = make_split(meta, y, {"method": "blocks", "block_size": 100_000, "seed": 1}, modality="sequence")
    assert other["test"] != blocks["test"]


# -- siRNA: RNA letters, the position-specific ridge baseline ---------------------------------------
SIRNA = Path(__file__).resolve().parents[1] / "data" / "rna"


def sirna_codes(name):
    from biodl.featurizers import OneHot

    table = read_source({"format": "csv", "path": str(SIRNA / name), "input": "sequence", "id": "id",
                         "targets": ["efficacy"]})
    result = OneHot(length=21).featurize(table.inputs)
    assert not result.rejects  # RNA's U is read as T: no row is lost to its letters
    return result.X, table.y


def test_onehot_ridge_on_sirna_learns_position_effects_and_not_from_shuffled_labels():
    from biodl.baselines import make_baseline

    X, y = sirna_codes("sirna_train.csv")
    Xt, yt = sirna_codes("sirna_valid.csv")
    cut = int(0.9 * len(X))
    ridge = make_baseline({"type": "ridge", "onehot_codes": True}, task_type="regression", seed=0)
    ridge.fit(X[:cut], y[:cut], X[cut:], y[cut:])
    r = np.corrcoef(ridge.predict(Xt)[:, 0], yt[:, 0])[0, 1]
    assert r > 0.55, r  # 0.635 measured (alpha 100 chosen on the held-out tenth)
    shuffled = np.random.default_rng(0).permutation(y[:cut])
    ridge.fit(X[:cut], shuffled, X[cut:], y[cut:])
    assert abs(np.corrcoef(ridge.predict(Xt)[:, 0], yt[:, 0])[0, 1]) < 0.15
    with pytest.raises(Exception, match="onehot_codes needs DNA codes"):
        ridge.fit(np.random.default_rng(0).random((20, 5)), y[:20], X[:5], y[:5])


# -- BED intervals + a reference genome ---------------------------------------------------------------
def write_genome(folder: Path, sizes=(("chr1", 1000), ("chr2", 250)), width=60, seed=0) -> tuple[Path, dict]:
    rng = np.random.default_rng(seed)
    seqs = {name: "".join(rng.choice(list("ACGTacgt"), n)) for name, n in sizes}
    path = folder / "genome.fa"
    with path.open("w") as fh:
        for name, seq in seqs.items():
            fh.write(f">{name} test contig\n")
            fh.writelines(seq[i:i + width] + "\n" for i in range(0, len(seq), width))
    return path, seqs


def expected_window(seqs, chrom, start, length):
    seq = seqs[chrom]
    return "".join(seq[p] if 0 <= p < len(seq) else "N" for p in range(start, start + length))


def test_bed_windows_are_cut_from_the_genome_with_edges_padded_and_bad_lines_rejected(tmp_path):
    genome, seqs = write_genome(tmp_path)
    bed = tmp_path / "peaks.bed"
    bed.write_text("track name=peaks\n"
                   "chr1\t100\t140\tp1\t7.5\t+\n"     # window centred on 120
                   "chr1\t0\t10\tedge\t1\t.\n"        # reaches before the chromosome start: N-padded
                   "chr2\t230\t250\tend\t2\t-\n"      # reaches past the end, minus strand
                   "chr1\t990\t1010\tpast\t3\t+\n"    # the interval itself runs past chr1's end
                   "chrZ\t5\t50\tnope\t4\t+\n"        # not in the genome
                   "chr1\tx\t50\tbad\t5\t+\n"
                   "chr1\t60\t60\tempty\t6\t+\n"
                   "chr1\t300\t340\tnan\tNA\t+\n")
    table = read_source({"format": "bed", "path": str(bed), "genome": str(genome), "length": 50,
                         "score_column": 5, "target": "signal"})
    assert len(table) == 8 and table.tasks == ["signal"]
    assert table.inputs[0] == expected_window(seqs, "chr1", 95, 50)
    assert table.inputs[1] == expected_window(seqs, "chr1", -20, 50) and table.inputs[1].startswith("N" * 20)
    from biodl.genome import reverse_complement_bytes

    fwd = expected_window(seqs, "chr2", 215, 50)
    rc = reverse_complement_bytes(np.frombuffer(fwd.encode(), np.uint8)[None])[0].tobytes().decode()
    assert rc == fwd[::-1].translate(str.maketrans("ACGTacgt", "TGCAtgca"))
    assert table.inputs[2] == rc and table.inputs[2].startswith("N" * 15)
    np.testing.assert_array_equal(table.y[:3, 0], [7.5, 1, 2])
    reasons = {r.index: r.reason for r in table.rejects}
    assert reasons == {
        3: "peaks.bed line 5: interval ends at 1010, past the end of chr1 (1,000 bp)",
        4: "peaks.bed line 6: chromosome 'chrZ' is not in the genome genome.fa (it has chr1, chr2)",
        5: "peaks.bed line 7: start / end are not non-negative integers: 'x', '50'",
        6: "peaks.bed line 8: empty interval (end 60 <= start 60)",
        7: "peaks.bed line 9: score_column 5 is not a finite number: 'NA'"}
    assert table.meta["start"].to_pylist()[:3] == [95, -20, 215]
    assert (genome.parent / "genome.fa.fai").is_file()  # built by pyfaidx, read on the next call


def test_bed_files_as_classes_featurize_and_split_by_blocks(tmp_path):
    from biodl.dataset import featurize_source

    genome, seqs = write_genome(tmp_path, sizes=(("chr1", 50_000), ("chr2", 30_000)))
    rng = np.random.default_rng(1)
    for name in ("bound", "unbound"):
        with (tmp_path / f"{name}.bed.gz").open("wb") as fh:
            import gzip

            lines = [f"chr{rng.integers(1, 3)}\t{s}\t{s + 20}\n" for s in rng.integers(0, 29_000, 300)]
            fh.write(gzip.compress("".join(lines).encode()))
    source = {"format": "bed", "genome": str(genome), "length": 101, "target": "bound",
              "files": [{"path": str(tmp_path / "bound.bed.gz"), "label": 1},
                        {"path": str(tmp_path / "unbound.bed.gz"), "label": 0}]}
    ds = featurize_source(source, {"type": "onehot", "length": 101}, tmp_path / "f", progress=False)
    assert len(ds.ids) + len(ds.rejects) == 600
    row = int(ds.meta["row"].iloc[0])
    chrom, start = ds.meta["chrom"].iloc[0], int(ds.meta["start"].iloc[0])
    from biodl.featurizers import OneHot

    np.testing.assert_array_equal(np.asarray(ds.X[0]),
                                  OneHot(length=101).featurize([expected_window(seqs, chrom, start, 101)]).X[0])
    bound = (ds.meta["file"] == "bound.bed.gz").to_numpy()
    assert row == 0 and (ds.y[bound, 0] == 1).all() and (ds.y[~bound, 0] == 0).all()
    assert {r for r in ds.rejects["reason"]} <= {r for r in ds.rejects["reason"] if r.startswith("duplicate")}
    split = make_split(ds.meta, ds.y, {"method": "blocks", "block_size": 5000, "keep_positives": True, "seed": 0},
                       tasks=["bound"], modality="sequence")
    assert split["audit"]["intervals"]["pairs"]["train-test"]["overlap"] == 0


def test_bed_source_structural_faults_are_one_line(tmp_path):
    genome, _ = write_genome(tmp_path)
    bed = tmp_path / "a.bed"
    bed.write_text("chr1\t1\t5\n")
    base = {"format": "bed", "path": str(bed), "genome": str(genome), "length": 10}
    assert "genome FASTA not found" in error(read_source, {**base, "genome": str(tmp_path / "no.fa")})
    gz = tmp_path / "g.fa.gz"
    gz.write_bytes(b"")
    assert "must be an uncompressed FASTA" in error(read_source, {**base, "genome": str(gz)})
    assert "length must be a positive integer" in error(read_source, {**base, "length": 0})
    (tmp_path / "empty.bed").write_text("# nothing\n")
    assert "no BED intervals" in error(read_source, {**base, "path": str(tmp_path / "empty.bed")})
    ragged = tmp_path / "ragged.fa"
    ragged.write_text(">c\nACGTACGT\nACG\nACGTACGT\n")
    assert "cannot index the genome FASTA" in error(read_source, {**base, "genome": str(ragged)})


@pytest.mark.parametrize("width", [7, 60, 5000])  # short lines, the usual 60, one line per contig
def test_genome_windows_equal_the_sequence_at_every_phase_and_edge(tmp_path, width):
    from biodl.genome import Genome

    genome, seqs = write_genome(tmp_path, sizes=(("chr1", 1000), ("chr2", 250), ("chr3", 61)), width=width)
    g = Genome(genome)
    rng = np.random.default_rng(width)
    chrom = np.array(list(seqs), object)[rng.integers(0, 3, 3000)]
    start = rng.integers(-40, 1000, 3000)
    start[:3] = [0, 250 - 25, 61 - 25]  # the first base; windows ending on a contig's (and the file's) last base
    chrom[:3] = ["chr1", "chr2", "chr3"]
    got = g.windows(chrom, start, 25)
    expected = [expected_window(seqs, c, s, 25) for c, s in zip(chrom, start)]
    assert [row.tobytes().decode() for row in got] == expected
    np.testing.assert_array_equal(g.windows(g.contig_codes(chrom), start, 25), got)


def _bed_parses(path, genome, score_column):
    from biodl.genome import Genome
    from biodl.sources import _parse_bed_columns, _parse_bed_rows

    g = Genome(genome)
    data = path.read_bytes()
    lines = [(n, line.split("\t")) for n, line in enumerate(data.decode().splitlines(), 1)
             if line.strip() and not line.startswith(("#", "track", "browser"))]
    return _parse_bed_columns(data, g, score_column), _parse_bed_rows(lines, g, score_column)


def test_bed_column_parse_equals_the_line_rules_on_doubtful_values(tmp_path):
    genome, _ = write_genome(tmp_path)
    bed = tmp_path / "odd.bed"
    values = [("chr1", "5", "9", "+", "1.5"), ("chr1", "+5", "9", "+", "1"), ("chr1", " 5", "9", "-", "2"),
              ("chr1", "5.0", "9", "+", "3"), ("chr1", "99999999999999999999", "9", "+", "4"),
              ("chr1", "-1", "9", "+", "5"), ("chrZ", "1", "9", "+", "6"), ("chr1", "1", "1001", "+", "7"),
              ("chr2", "1", "9", ".", "8"), ("chr2", "1", "9", "", "9"), ("chr2", "1", "9", "x", "10"),
              ("chr1", "2", "9", "-", "nan"), ("chr1", "3", "9", "+", "1_000"), ("chr1", "4", "9", "+", "inf"),
              ("chr1", "5", "9", "+", "1e3"), ("chr1", "6", "9", "+", ""), ("chr1", "7", "9", "+", " 2.5 "),
              ("", "1", "9", "+", "1"), ("chr1", "", "", "+", "1")]
    bed.write_text("browser position chr1\n# a comment\n"
                   + "".join(f"{c}\t{a}\t{b}\tname\t{s}\t{st}\n" for c, a, b, st, s in values))
    columns, rows = _bed_parses(bed, genome, 5)
    assert columns is not None  # a plain file: the column parse ran
    assert columns.ids == rows.ids and columns.problems == rows.problems
    for key in ("contig", "lo", "hi", "strand", "score"):
        np.testing.assert_array_equal(getattr(columns, key), getattr(rows, key))
    assert len(rows.problems) >= 10 and {p[1] for p in rows.problems} >= {4, 7, 8, 9, 12, 13, 14}


def test_bed_files_that_are_not_plain_are_read_line_by_line_with_the_same_result(tmp_path):
    genome, _ = write_genome(tmp_path)
    body = "chr1\t100\t140\tp1\t7.5\t+\nchr2\t30\t80\n"
    spec = {"format": "bed", "genome": str(genome), "length": 30}
    plain = tmp_path / "plain.bed"
    plain.write_text(body + "chr1\t500\t540\tp3\t1\t-\n")
    expected = read_source({**spec, "path": str(plain)})
    for name, text in {"comment_inside": body + "# later\nchr1\t500\t540\tp3\t1\t-\n",
                       "crlf_lone_cr": body.replace("\n", "\r\n") + "chr1\t500\t540\tp3\t1\t-\r",
                       "latin1": body + "chr1\t500\t540\tp\xe93\t1\t-\n"}.items():
        path = tmp_path / f"{name}.bed"
        path.write_bytes(text.encode("latin-1"))
        from biodl.genome import Genome
        from biodl.sources import _parse_bed_columns

        assert _parse_bed_columns(path.read_bytes(), Genome(genome), None) is None, name
        table = read_source({**spec, "path": str(path)})
        assert list(table.inputs) == list(expected.inputs) and table.ids == expected.ids, name
        assert table.meta["strand"].to_pylist() == ["+", "+", "-"], name


def test_onehot_reads_a_block_of_letters_as_it_reads_the_same_strings():
    from biodl.encodings import SequenceBlock
    from biodl.featurizers import OneHot

    seqs = ["ACGTN", "acgtR", "ACXTA", "", "TTTTT", "GGGGg"]
    block = SequenceBlock(np.array([list(s.encode()) if s else [0] * 5 for s in seqs], np.uint8),
                          present=np.array([s != "" for s in seqs]))
    assert list(block) == seqs and list(block[1:3]) == seqs[1:3] and list(block.take([4, 0])) == ["TTTTT", "ACGTN"]
    assert block.take([0, 4]).to_arrow().to_pylist() == ["ACGTN", "TTTTT"]
    for length in (5, 4):  # the block's width (read as letters) and another (read as strings, cropped)
        a = OneHot(length=length, resize="crop_pad").featurize(block)
        b = OneHot(length=length, resize="crop_pad").featurize(seqs)
        np.testing.assert_array_equal(a.X, b.X)
        np.testing.assert_array_equal(a.kept, b.kept)
        assert [(r.index, r.input, r.reason) for r in a.rejects] == [(r.index, r.input, r.reason) for r in b.rejects]
        assert a.meta.keys() == b.meta.keys()
        for key in a.meta:
            np.testing.assert_array_equal(a.meta[key], b.meta[key])
    assert [r.reason for r in OneHot().featurize(block).rejects] == ["non-DNA letters: 'X'", "empty sequence"]


def test_a_non_ascii_digit_in_a_bed_coordinate_is_a_reject_not_a_crash(tmp_path):
    genome, _ = write_genome(tmp_path)
    bed = tmp_path / "odd.bed"
    bed.write_bytes("chr1\t1\xb2\t50\nchr1\t100\t140\n".encode("latin-1"))  # '²' passes str.isdigit
    table = read_source({"format": "bed", "path": str(bed), "genome": str(genome), "length": 20})
    assert [r.reason for r in table.rejects] == ["odd.bed line 1: start / end are not non-negative integers: '1²', '50'"]
    assert len(table.inputs[1]) == 20


def test_genome_windows_gathered_in_chunks_equal_one_gather(tmp_path, monkeypatch):
    import biodl.genome as genome_module

    genome, seqs = write_genome(tmp_path, sizes=(("chr1", 3000), ("chr2", 900)))
    g = genome_module.Genome(genome)
    rng = np.random.default_rng(7)
    chrom, start = np.array(list(seqs), object)[rng.integers(0, 2, 500)], rng.integers(-30, 900, 500)
    whole = g.windows(chrom, start, 40)
    monkeypatch.setattr(genome_module, "_GATHER_BYTES", 40 * 37)  # 37 windows per chunk
    np.testing.assert_array_equal(g.windows(chrom, start, 40), whole)
    assert [r.tobytes().decode() for r in whole[:20]] == [expected_window(seqs, c, s, 40) for c, s in zip(chrom[:20], start[:20])]
