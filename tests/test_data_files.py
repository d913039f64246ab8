"""Integrity checks for the vendored datasets in ``data/``.

The expected sha256 and record counts are parsed from the file table in
``data/README.md`` so that the README and the files cannot silently drift
apart.  No network access; only the standard library is used.
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
README = DATA_DIR / "README.md"

# Hard-coded as well, so that editing the README alone cannot hide a change.
EXPECTED_RECORDS = {
    "molecules/freesolv.csv": 642,
    "molecules/solubility_train.csv": 1025,
    "molecules/solubility_test.csv": 257,
    "dna/oct4_train.fa": 3897,
    "dna/mafk_train.fa": 3900,
    "dna/oct4_test.fa": 100,
    "dna/mafk_test.fa": 100,
}

EXPECTED_COLUMNS = {
    "molecules/freesolv.csv": ["id", "name", "smiles", "expt"],
    "molecules/solubility_train.csv": ["id", "name", "smiles", "logS", "sol_class"],
    "molecules/solubility_test.csv": ["id", "name", "smiles", "logS", "sol_class"],
}

_ROW_RE = re.compile(
    r"^\|\s*(?P<file>[\w./-]+\.(?:csv|fa))\s*\|\s*(?P<records>\d+)\s*\|"
    r"\s*(?P<sha>[0-9a-f]{64})\s*\|"
)


def _readme_table() -> dict[str, dict]:
    table = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        m = _ROW_RE.match(line)
        if m:
            assert m["file"] not in table, f"duplicate README row for {m['file']}"
            table[m["file"]] = {"records": int(m["records"]), "sha256": m["sha"]}
    return table


TABLE = _readme_table()


def _read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _fasta_headers(path: Path) -> list[str]:
    with path.open(encoding="ascii") as fh:
        return [ln[1:].rstrip("\n") for ln in fh if ln.startswith(">")]


def test_readme_table_lists_exactly_the_vendored_files():
    assert set(TABLE) == set(EXPECTED_RECORDS)
    on_disk = {
        p.relative_to(DATA_DIR).as_posix()
        for p in DATA_DIR.rglob("*")
        if p.suffix in {".csv", ".fa"}
    }
    assert on_disk == set(EXPECTED_RECORDS)


@pytest.mark.parametrize("rel", sorted(EXPECTED_RECORDS))
def test_sha256_matches_readme(rel):
    digest = hashlib.sha256((DATA_DIR / rel).read_bytes()).hexdigest()
    assert digest == TABLE[rel]["sha256"], f"{rel}: sha256 differs from data/README.md"


@pytest.mark.parametrize("rel", sorted(EXPECTED_RECORDS))
def test_record_counts(rel):
    path = DATA_DIR / rel
    if rel.endswith(".csv"):
        _, rows = _read_csv(path)
        n = len(rows)
    else:
        n = len(_fasta_headers(path))
    assert n == EXPECTED_RECORDS[rel] == TABLE[rel]["records"]


@pytest.mark.parametrize("rel", sorted(EXPECTED_COLUMNS))
def test_csv_columns_and_unique_ids(rel):
    cols, rows = _read_csv(DATA_DIR / rel)
    assert cols == EXPECTED_COLUMNS[rel]
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids), f"duplicate ids in {rel}"
    assert all(r["smiles"] for r in rows)
    value_col = "expt" if "expt" in cols else "logS"
    for r in rows:
        float(r[value_col])


def test_molecule_ids_unique_across_files():
    ids = [r["id"] for rel in EXPECTED_COLUMNS for r in _read_csv(DATA_DIR / rel)[1]]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("rel", sorted(r for r in EXPECTED_RECORDS if r.endswith(".fa")))
def test_fasta_unique_headers_and_200bp(rel):
    text = (DATA_DIR / rel).read_text(encoding="ascii")
    headers = _fasta_headers(DATA_DIR / rel)
    assert len(set(headers)) == len(headers), f"duplicate FASTA headers in {rel}"
    seqs = [ln for ln in text.splitlines() if ln and not ln.startswith(">")]
    assert len(seqs) == len(headers)  # one sequence line per record
    assert all(len(s) == 200 for s in seqs)
    assert set("".join(seqs)) <= set("ACGTacgt")
