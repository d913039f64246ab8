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
