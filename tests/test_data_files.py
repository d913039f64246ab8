"""Integrity checks for the vendored datasets in ``data/``.

The expected sha256 and record counts are parsed from the file table in
``data/README.md`` so that the README and the files cannot silently drift
apart.  No network access; only the standard library is used.
"""

from __future__ import annotations

import csv
import gzip
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
    "molecules/tox21.csv.gz": 8014,
    "molecules/delaney-processed.csv": 1128,
    "molecules/muv.csv.gz": 93127,
    "molecules/dude_erk2_mk01.csv": 4629,
    "dna/jund_chr22_valid.fa.gz": 34527,
    "dna/jund_chr22_test.fa.gz": 34528,
    "rna/sirna_train.csv": 2187,
    "rna/sirna_valid.csv": 244,
}

EXPECTED_COLUMNS = {
    "molecules/freesolv.csv": ["id", "name", "smiles", "expt"],
    "molecules/solubility_train.csv": ["id", "name", "smiles", "logS", "sol_class"],
    "molecules/solubility_test.csv": ["id", "name", "smiles", "logS", "sol_class"],
}

_ROW_RE = re.compile(
    r"^\|\s*(?P<file>[\w./-]+\.(?:csv\.gz|csv|fa\.gz|fa))\s*\|\s*(?P<records>\d+)\s*\|"
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
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _fasta_headers(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="ascii") as fh:
        return [ln[1:].rstrip("\n") for ln in fh if ln.startswith(">")]


def test_readme_table_lists_exactly_the_vendored_files():
    assert set(TABLE) == set(EXPECTED_RECORDS)
    on_disk = {
        p.relative_to(DATA_DIR).as_posix()
        for p in DATA_DIR.rglob("*")
        if p.name.endswith((".csv", ".csv.gz", ".fa", ".fa.gz"))
    }
    assert on_disk == set(EXPECTED_RECORDS)


@pytest.mark.parametrize("rel", sorted(EXPECTED_RECORDS))
def test_sha256_matches_readme(rel):
    digest = hashlib.sha256((DATA_DIR / rel).read_bytes()).hexdigest()
    assert digest == TABLE[rel]["sha256"], f"{rel}: sha256 differs from data/README.md"


@pytest.mark.parametrize("rel", sorted(EXPECTED_RECORDS))
def test_record_counts(rel):
    path = DATA_DIR / rel
    if rel.endswith((".csv", ".csv.gz")):
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


# DeepChem's MoleculeNet files, vendored byte-identical (data/README.md): header, blanks per task
TOX21_TASKS = ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
               "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53"]
MUV_TASKS = ["MUV-466", "MUV-548", "MUV-600", "MUV-644", "MUV-652", "MUV-689", "MUV-692", "MUV-712", "MUV-713",
             "MUV-733", "MUV-737", "MUV-810", "MUV-832", "MUV-846", "MUV-852", "MUV-858", "MUV-859"]
ESOL_TARGET = "measured log solubility in mols per litre"
ESOL_PREDICTED = "ESOL predicted log solubility in mols per litre"  # Delaney's model output: never a feature
MOLECULENET_COLUMNS = {
    "molecules/tox21.csv.gz": [*TOX21_TASKS, "mol_id", "smiles"],
    "molecules/muv.csv.gz": [*MUV_TASKS, "mol_id", "smiles"],
    "molecules/delaney-processed.csv": [
        "Compound ID", ESOL_PREDICTED, "Minimum Degree", "Molecular Weight", "Number of H-Bond Donors",
        "Number of Rings", "Number of Rotatable Bonds", "Polar Surface Area", ESOL_TARGET, "smiles"],
}
#: blank (not measured) labels per task, as counted when the files were vendored (data/README.md)
BLANKS = {
    "molecules/tox21.csv.gz": [575, 1112, 1323, 2074, 1698, 902, 1431, 2079, 782, 1420, 2094, 1105],
    "molecules/muv.csv.gz": [78283, 78390, 78393, 78494, 78224, 78521, 78480, 78712, 78286, 78436, 78431,
                             78481, 78451, 78413, 78469, 78352, 78376],
}
POSITIVES = {
    "molecules/tox21.csv.gz": [310, 238, 785, 307, 798, 356, 189, 961, 267, 379, 936, 431],
    "molecules/muv.csv.gz": [27, 29, 30, 30, 29, 29, 30, 28, 29, 28, 29, 29, 30, 30, 29, 29, 24],
}


def test_gz_files_are_gzip_and_whole():
    for rel in ("molecules/tox21.csv.gz", "molecules/muv.csv.gz"):
        raw = (DATA_DIR / rel).read_bytes()
        assert raw[:2] == b"\x1f\x8b", f"{rel} is not gzip-compressed"
        assert gzip.decompress(raw).endswith(b"\n")


@pytest.mark.parametrize("rel", sorted(MOLECULENET_COLUMNS))
def test_moleculenet_columns_ids_and_smiles(rel):
    cols, rows = _read_csv(DATA_DIR / rel)
    assert cols == MOLECULENET_COLUMNS[rel]
    id_col = "Compound ID" if "Compound ID" in cols else "mol_id"
    ids = [r[id_col] for r in rows]
    assert all(ids) and len(set(ids)) == len(ids), f"empty or repeated ids in {rel}"
    assert all(r["smiles"].strip() for r in rows)


@pytest.mark.parametrize("rel", sorted(BLANKS))
def test_binary_tasks_blanks_and_labels(rel):
    cols, rows = _read_csv(DATA_DIR / rel)
    tasks = cols[: len(BLANKS[rel])]
    blanks = [sum(r[t] == "" for r in rows) for t in tasks]
    positives = [sum(r[t] == "1" for r in rows) for t in tasks]
    assert blanks == BLANKS[rel] and all(b > 0 for b in blanks)
    assert positives == POSITIVES[rel]
    assert {r[t] for r in rows for t in tasks} == {"", "0", "1"}  # labels are 0/1 only; blank = missing
    assert all(any(r[t] != "" for t in tasks) for r in rows)  # every row has a label somewhere


def test_esol_target_is_measured_and_complete():
    cols, rows = _read_csv(DATA_DIR / "molecules/delaney-processed.csv")
    measured = [float(r[ESOL_TARGET]) for r in rows]
    predicted = [float(r[ESOL_PREDICTED]) for r in rows]
    assert len(measured) == 1128 and min(measured) == -11.6 and max(measured) == 1.58
    assert measured != predicted  # two different columns: the target is the measurement
    assert all(v != "" for r in rows for v in r.values())  # no blanks anywhere


def test_readme_warns_about_esol_predictions():
    text = README.read_text(encoding="utf-8")
    assert f"Never use `{ESOL_PREDICTED}` as a" in " ".join(text.split())


@pytest.mark.parametrize("rel", ["dna/jund_chr22_valid.fa.gz", "dna/jund_chr22_test.fa.gz"])
def test_jund_windows_are_101bp_on_chr22_with_146_positives(rel):
    with gzip.open(DATA_DIR / rel, "rt", encoding="ascii") as fh:
        lines = fh.read().splitlines()
    headers, seqs = lines[0::2], lines[1::2]
    assert all(re.fullmatch(r">chr22:\d+-\d+ jund=[01]", h) for h in headers)
    assert all(len(s) == 101 for s in seqs) and set("".join(seqs)) <= set("ACGTN")
    assert sum(h.endswith("jund=1") for h in headers) == 146


@pytest.mark.parametrize("rel", ["rna/sirna_train.csv", "rna/sirna_valid.csv"])
def test_sirna_rows_are_21nt_rna_with_nonnegative_efficacy(rel):
    cols, rows = _read_csv(DATA_DIR / rel)
    assert cols == ["id", "sequence", "efficacy"]
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(len(r["sequence"]) == 21 and set(r["sequence"]) <= set("ACGU") for r in rows)
    assert all(0 <= float(r["efficacy"]) < 1.5 for r in rows)  # a few measured above 1 (over-expression noise)
