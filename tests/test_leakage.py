"""The wider leakage audit: scaffolds and near neighbours of molecules, overlapping and adjacent
DNA intervals, image groups in several parts, and the one-line reading. Every data set is built
here; expected values come from plain Python or RDKit's own Tanimoto, not from the code tested."""

import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from biodl.splits import (
    PARTS,
    audit_split,
    group_audit,
    interval_audit,
    load_split,
    make_split,
    molecule_audit,
    save_split,
)
from biodl.similarity import max_tanimoto

# a congeneric series: two cores with acyclic R groups (one scaffold per core), the first large
# enough that one substituent swap keeps Tanimoto above 0.8, the second small enough that it does not
R1 = ["C", "CC", "CCC", "C(C)C", "CCO", "CCN", "CC(F)(F)F", "CCOC"]
R2 = ["F", "Cl", "Br", "C", "OC", "C#N", "C(F)(F)F", "N", "O", "SC"]
CORES = ["O=C(N{r1})c1ccc({r2})cc1-c1ccc(NC(=O)c2ccc(N3CCOCC3)cc2)nc1",
         "O=C(N{r1})c1ccc({r2})cc1Oc1ccccc1"]
SINGLETONS = ["c1ccc2ccccc2c1", "c1ccc2[nH]ccc2c1", "C1CCC2CCCCC2C1", "c1ccc(-c2ccccn2)cc1", "C1CCNCC1",
              "c1cnc2ncccc2c1", "O=c1cc[nH]c(=O)[nH]1", "c1ccc2c(c1)oc1ccccc12", "C1=CCCCC1", "c1ccsc1",
              "c1ccoc1", "C1CC1", "c1ccc(Cc2ccccc2)cc1", "c1cc2ccc3cccc4ccc(c1)c2c34", "C1CCOC1"]
ACYCLIC = ["CCO", "CCCCCC", "CC(=O)O", "CCN(CC)CC", "OCC(O)CO", "CC(C)CC(=O)O", "NCCCCN", "C=CC=C"]


def series_smiles() -> list[str]:
    return [c.format(r1=a, r2=b) for c in CORES for a in R1 for b in R2] + SINGLETONS + ACYCLIC


def molecule_meta(smiles) -> pd.DataFrame:
    """Meta as the molecule featurizers write it: canonical SMILES and RDKit's Murcko scaffold."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    return pd.DataFrame({"row": np.arange(len(smiles)), "id": [f"m{i}" for i in range(len(smiles))],
                         "input": list(smiles), "canonical_smiles": [Chem.MolToSmiles(m) for m in mols],
                         "scaffold": [MurckoScaffold.MurckoScaffoldSmiles(mol=m) for m in mols]})


def rdkit_max_similarity(query_smiles, train_smiles) -> list[float]:
    """Each query's max Tanimoto to the training molecules, by RDKit's BulkTanimotoSimilarity."""
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    train = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in train_smiles]
    return [max(DataStructs.BulkTanimotoSimilarity(gen.GetFingerprint(Chem.MolFromSmiles(s)), train))
            for s in query_smiles]


# -- molecules ----------------------------------------------------------------------------------
def test_random_split_of_a_series_shares_scaffolds_and_a_scaffold_split_shares_none():
    meta = molecule_meta(series_smiles())
    random = make_split(meta, None, {"method": "random", "seed": 0})["audit"]
    # one core goes whole to train, the other whole to test: the valid part is all singletons
    scaffold_split = make_split(meta, None, {"method": "scaffold", "seed": 0, "fractions": [0.5, 0.1, 0.4]})
    scaffold = scaffold_split["audit"]

    split = make_split(meta, None, {"method": "random", "seed": 0})
    train_scaffolds = set(meta["scaffold"][split["train"]]) - {""}
    test_scaffolds = meta["scaffold"][split["test"]]
    expected = sum(s in train_scaffolds for s in test_scaffolds)
    mol = random["molecules"]["test"]
    assert mol["n"] == len(split["test"])
    assert mol["shared_scaffold"] == expected
    assert mol["shared_scaffold_share"] == round(expected / len(split["test"]), 4)
    assert mol["shared_scaffold_share"] >= 0.7  # the series dominates every part
    assert mol["scaffold_examples"][0]["rows"] >= mol["scaffold_examples"][-1]["rows"]
    assert random["modality"] == "molecule"

    assert scaffold["molecules"]["test"]["shared_scaffold"] == 0
    assert scaffold["molecules"]["test"]["scaffolds_in_train"] == 0
    assert scaffold["molecules"]["valid"]["shared_scaffold"] == 0
    assert scaffold["molecules"]["test"]["scaffold_examples"] == []
    assert "0 of" in scaffold["reading"] and "generalization to new scaffolds" in scaffold["reading"]


def test_acyclic_molecules_are_counted_apart_and_never_as_sharing():
    meta = molecule_meta(["CCO", "CCCO", "c1ccccc1C", "c1ccccc1CC", "CCN", "CCCN", "c1ccccc1O"])
    parts = {"train": [0, 2, 3], "valid": [1], "test": [4, 5, 6]}
    mol = molecule_audit(meta["canonical_smiles"], parts, scaffolds=meta["scaffold"])
    assert mol["train"]["acyclic"] == 1 and mol["valid"]["acyclic"] == 1
    assert mol["test"]["acyclic"] == 2
    assert mol["test"]["shared_scaffold"] == 1  # only the phenol: benzene is in train, '' is no scaffold
    assert mol["valid"]["shared_scaffold"] == 0
    assert mol["test"]["scaffold_examples"] == [{"scaffold": "c1ccccc1", "rows": 1, "train_rows": 2}]
    # without a scaffold column the audit computes the same scaffolds with RDKit
    assert molecule_audit(meta["input"], parts) == mol


def test_unparseable_smiles_are_left_out_of_the_similarity_only():
    smiles = ["c1ccccc1O", "C1CC", "c1ccccc1N", "CCO", "c1ccccc1C", "not a smiles", "c1ccncc1"]
    parts = {"train": [0, 1, 2], "valid": [3], "test": [4, 5, 6]}
    mol = molecule_audit(smiles, parts)
    assert mol["train"]["unparsed"] == 1
    assert mol["test"]["unparsed"] == 1 and mol["test"]["audited"] == 2 and sum(mol["test"]["histogram"]) == 2
    assert mol["test"]["n"] == 3 and mol["test"]["shared_scaffold"] == 1  # toluene; the pyridine is new
    expected = rdkit_max_similarity(["c1ccccc1C", "c1ccncc1"], ["c1ccccc1O", "c1ccccc1N"])
    assert mol["test"]["max_similarity"]["max"] == round(max(expected), 4)


def test_neighbours_quantiles_and_histogram_match_rdkit_by_brute_force():
    smiles = series_smiles()
    meta = molecule_meta(smiles)
    split = make_split(meta, None, {"method": "random", "seed": 3, "fractions": [0.6, 0.2, 0.2]})
    mol = split["audit"]["molecules"]
    train = [smiles[i] for i in split["train"]]
    for part in ("valid", "test"):
        sims = np.array(rdkit_max_similarity([smiles[i] for i in split[part]], train))
        got = mol[part]
        assert got["audited"] == len(sims) and got["sample_of"] is None
        assert got["neighbour"] == int((sims >= 0.8).sum())
        assert got["neighbour_share"] == round(float((sims >= 0.8).mean()), 4)
        assert got["max_similarity"] == {k: round(float(np.quantile(sims, q)), 4) for k, q in
                                         {"min": 0, "q10": .1, "q25": .25, "median": .5, "q75": .75, "q90": .9,
                                          "max": 1}.items()}
        # bins from exact fractions: a ratio of 7/10 belongs in [0.7, 0.8), whatever rounding says
        exact = [Fraction(s).limit_denominator(4096) for s in sims]
        assert got["histogram"] == [sum(min(int(f * 10), 9) == b for f in exact) for b in range(10)]
    assert 0 < mol["test"]["neighbour"] < mol["test"]["n"]  # the data exercise both sides of 0.8
    assert mol["histogram_bins"] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def test_max_tanimoto_kernel_matches_a_loop_across_chunks_and_blocks():
    rng = np.random.default_rng(0)
    query = (rng.random((23, 64)) < 0.15).astype(np.uint8)
    reference = (rng.random((37, 64)) < 0.15).astype(np.uint8)
    query[0] = 0                 # an empty fingerprint against non-empty ones: 0
    query[1] = reference[5]      # an identical one: 1
    expected = []
    for q in query:
        best = 0.0
        for r in reference:
            union = int((q | r).sum())
            best = max(best, int((q & r).sum()) / union if union else 0.0)
        expected.append(best)
    for q_chunk, r_block, dense in ((256, 32768, 256), (5, 7, 8), (1, 1, 0), (4, 10, 64)):
        got = max_tanimoto(query, reference, query_chunk=q_chunk, reference_block=r_block, dense_bits=dense)
        assert got.dtype == np.float64 and got.tolist() == expected
    assert expected[0] == 0.0 and expected[1] == 1.0


def test_a_large_part_is_audited_on_a_seeded_sample_and_says_so():
    smiles = series_smiles()
    meta = molecule_meta(smiles)
    spec = {"method": "random", "seed": 0, "fractions": [0.5, 0.1, 0.4]}
    split = make_split(meta, None, spec)
    full = split["audit"]["molecules"]["test"]
    parts = {p: split[p] for p in PARTS}
    small = molecule_audit(meta["canonical_smiles"], parts, scaffolds=meta["scaffold"], max_audited=20)
    t = small["test"]
    assert t["audited"] == 20 and t["sample_of"] == full["n"] and sum(t["histogram"]) == 20
    assert t["shared_scaffold"] == full["shared_scaffold"]  # scaffolds are counted on every row
    assert small == molecule_audit(meta["canonical_smiles"], parts, scaffolds=meta["scaffold"], max_audited=20)
    audit = audit_split(meta, parts, method="random", max_audited=20)
    assert "of a seeded sample of 20" in audit["reading"]


def test_fingerprints_passed_in_give_the_same_audit_as_smiles():
    from biodl import domain

    smiles = series_smiles()
    meta = molecule_meta(smiles)
    bits, valid = domain.fingerprints(smiles)
    assert valid.all()
    spec = {"method": "random", "seed": 1}
    assert make_split(meta, None, spec, fingerprints=bits) == make_split(meta, None, spec)


def test_molecule_reading_quotes_the_audit_numbers():
    meta = molecule_meta(series_smiles())
    audit = make_split(meta, None, {"method": "random", "seed": 0})["audit"]
    t = audit["molecules"]["test"]
    reading = audit["reading"]
    assert reading.startswith("random split: ")
    assert f"{t['shared_scaffold']} of {t['n']} test molecules ({round(100 * t['shared_scaffold_share'])} %)" in reading
    assert f"{round(100 * t['neighbour_share'])} % have a training neighbour at Tanimoto ≥ 0.8" in reading
    assert f"median max similarity {t['max_similarity']['median']:.2f}" in reading
    assert "use a scaffold split" in reading and "\n" not in reading


def test_reading_of_new_scaffolds_with_close_acyclic_analogues():
    from biodl.splits import audit_reading

    test = {"n": 10, "acyclic": 6, "shared_scaffold": 0, "shared_scaffold_share": 0.0, "audited": 10,
            "sample_of": None, "neighbour": 3, "neighbour_share": 0.3, "max_similarity": {"median": 0.456}}
    reading = audit_reading("scaffold", {"duplicated_keys": 2, "key": "canonical_smiles",
                                         "molecules": {"threshold": 0.8, "test": test}})
    assert reading == (
        "scaffold split: 2 identical inputs (canonical_smiles) occur in more than one part; 0 of 10 test molecules "
        "(0 %) share a Bemis–Murcko scaffold with training (6 acyclic, without a scaffold) and 30 % have a training "
        "neighbour at Tanimoto ≥ 0.8 (median max similarity 0.46) — test scores measure generalization to new "
        "scaffolds, though 30 % of test molecules have a close training analogue; most test molecules are acyclic, "
        "so only the similarity says how new they are.")


# -- DNA intervals ------------------------------------------------------------------------------
def dna_meta(intervals, ids=True) -> pd.DataFrame:
    meta = pd.DataFrame({"row": np.arange(len(intervals)),
                         "id": [f"{c}:{s}-{e}(+)" for c, s, e in intervals],
                         "input": ["ACGT" * (i + 1) for i in range(len(intervals))]})
    if not ids:
        meta["chrom"] = [c for c, _, _ in intervals]
        meta["start"] = [s for _, s, _ in intervals]
        meta["end"] = [e for _, _, e in intervals]
    return meta


def test_planted_overlap_and_adjacency_across_parts_are_found_and_distant_ones_are_not():
    intervals = [("chr1", 100, 300),   # 0 train
                 ("chr1", 250, 400),   # 1 test: overlaps 0
                 ("chr1", 1000, 1200),  # 2 train
                 ("chr1", 1200, 1300),  # 3 test: touches 2
                 ("chr1", 2000, 2100),  # 4 train
                 ("chr1", 2101, 2200),  # 5 test: 1 bp away from 4
                 ("chr2", 250, 400),   # 6 test: same coordinates as 1, other chromosome
                 ("chr1", 5000, 5100),  # 7 valid
                 ("chr1", 5100, 5200)]  # 8 train: touches 7
    parts = {"train": [0, 2, 4, 8], "valid": [7], "test": [1, 3, 5, 6]}
    meta = dna_meta(intervals, ids=False)
    audit = audit_split(meta, parts, method="random")
    iv = audit["intervals"]
    assert audit["modality"] == "sequence"
    assert iv["pairs"] == {"train-valid": {"overlap": 0, "adjacent": 1},
                           "train-test": {"overlap": 1, "adjacent": 1},
                           "valid-test": {"overlap": 0, "adjacent": 0}}
    assert iv["test"] == {"n": 4, "overlap_train": 1, "adjacent_train": 1, "overlap_train_share": 0.25,
                          "adjacent_train_share": 0.25}
    assert iv["valid"]["adjacent_train"] == 1 and iv["valid"]["overlap_train"] == 0
    assert iv["examples"][:2] == [
        {"parts": "train-test", "relation": "overlap", "intervals": ["chr1:100-300", "chr1:250-400"]},
        {"parts": "train-test", "relation": "adjacent", "intervals": ["chr1:1000-1200", "chr1:1200-1300"]}]
    assert {"parts": "train-valid", "relation": "adjacent",
            "intervals": ["chr1:5100-5200", "chr1:5000-5100"]} in iv["examples"]
    assert audit["reading"] == (
        "random split: 1 of 4 test intervals (25 %) overlap a "
        "training interval and 1 more touch one — test scores partly measure recall of neighbouring training "
        "sequence; hold out whole chromosomes (method chromosome) to measure generalization to new regions.")
    # a gap of 1 bp makes the interval 1 bp away adjacent too; the headers alone give the same answer
    wider = audit_split(dna_meta(intervals), parts, method="random", gap=1, modality="sequence")["intervals"]
    assert wider["pairs"]["train-test"] == {"overlap": 1, "adjacent": 2}
    assert wider["test"]["adjacent_train"] == 2


def test_a_chromosome_hold_out_reads_clean():
    intervals = [(f"chr{k % 3 + 1}", 100 * k, 100 * k + 100) for k in range(30)]  # tiles touching on each chrom
    split = make_split(dna_meta(intervals, ids=False), None,
                       {"method": "chromosome", "valid": ["chr2"], "test": ["chr3"]})
    assert split["audit"]["intervals"]["pairs"]["train-test"] == {"overlap": 0, "adjacent": 0}
    assert split["audit"]["reading"] == (
        "chromosome split: no test interval overlaps or touches a training interval.")


@pytest.mark.parametrize("gap", [0, 3, 40])
def test_interval_counts_match_all_pairs(gap):
    rng = np.random.default_rng(gap)
    n = 300
    chrom = rng.choice(["chr1", "chr2", "chrX"], n).astype(object)
    start = rng.integers(0, 3000, n)
    end = start + rng.integers(1, 60, n)
    start[:10], end[:10] = 500, 560  # identical intervals in several parts
    label = rng.integers(0, 3, n)
    chrom[rng.random(n) < 0.05] = None  # rows without coordinates
    parts = {p: np.flatnonzero(label == k).tolist() for k, p in enumerate(PARTS)}
    iv = interval_audit(chrom, start, end, parts, gap=gap)

    pairs = {f"{PARTS[a]}-{PARTS[b]}": {"overlap": 0, "adjacent": 0} for a, b in ((0, 1), (0, 2), (1, 2))}
    overlap_train, near_train = set(), set()
    for i in range(n):
        for j in range(i + 1, n):
            if chrom[i] is None or chrom[i] != chrom[j] or label[i] == label[j]:
                continue
            distance = max(start[i], start[j]) - min(end[i], end[j])  # < 0: shared bases
            relation = "overlap" if distance < 0 else "adjacent" if distance <= gap else None
            if relation:
                a, b = sorted((label[i], label[j]))
                pairs[f"{PARTS[a]}-{PARTS[b]}"][relation] += 1
                for x, y in ((i, j), (j, i)):
                    if label[y] == 0:
                        (overlap_train if relation == "overlap" else near_train).add(x)
    assert iv["pairs"] == pairs
    assert iv["rows_without_interval"] == sum(c is None for c in chrom)
    for k, part in ((1, "valid"), (2, "test")):
        mine = {i for i in range(n) if label[i] == k and chrom[i] is not None}
        assert iv[part]["n"] == len(mine)
        assert iv[part]["overlap_train"] == len(mine & overlap_train)
        assert iv[part]["adjacent_train"] == len((mine & near_train) - overlap_train)
    assert sum(v["overlap"] for v in pairs.values()) > 0 and sum(v["adjacent"] for v in pairs.values()) > 0


def test_sequences_without_coordinates_say_so():
    meta = pd.DataFrame({"row": np.arange(9), "id": [f"seq{i}" for i in range(9)],
                         "input": ["ACGT" * (i + 1) for i in range(9)]})
    audit = make_split(meta, None, {"method": "random"}, modality="sequence")["audit"]
    assert audit["intervals"]["rows"] == 0 and audit["intervals"]["rows_without_interval"] == 9
    assert audit["reading"] == ("random split: no identical input occurs in more than one part; the items "
                                "carry no genomic coordinates (chr:start-end), so overlaps were not checked.")


# -- images -------------------------------------------------------------------------------------
def image_meta(names) -> pd.DataFrame:
    from biodl.bbbc005 import scene_key

    return pd.DataFrame({"row": np.arange(len(names)), "input": [f"/d/{n}" for n in names], "file": names,
                         "scene": [scene_key(n) or n.rsplit(".", 1)[0] for n in names],
                         "sha256": [f"h{i}" for i in range(len(names))]})


def test_a_scene_in_two_parts_is_reported():
    from biodl.bbbc005 import bbbc005_name

    names = [bbbc005_name(c, b, s) for c in (3, 7) for s in (1, 2) for b in (1, 4, 7)]
    meta = image_meta(names)  # rows 0-2 C3_s1, 3-5 C3_s2, 6-8 C7_s1, 9-11 C7_s2 (three blur levels each)
    parts = {"train": [0, 1, 2, 3, 4, 5, 6, 7], "valid": [9, 10, 11], "test": [8]}
    audit = audit_split(meta, parts, method="random")
    g = audit["groups"]["scene"]
    assert audit["modality"] == "image" and "tile_source" not in audit["groups"]
    assert g["groups"] == 4 and g["in_several_parts"] == 1
    assert g["test_rows_with_train_group"] == 1 and g["test_rows_with_train_group_share"] == 1.0
    assert g["valid_rows_with_train_group"] == 0
    assert g["examples"] == [{"group": "C7_s1", "train": 2, "valid": 0, "test": 1}]
    assert audit["reading"] == (
        "random split: 1 of 1 test images (100 %) share a scene with training images (1 of 4 scenes in more than one part) — test scores measure recognition "
        "of seen scenes; split by group (key scene) to measure generalization to new ones.")
    grouped = make_split(meta, None, {"method": "group", "key": "scene", "fractions": [0.5, 0.25, 0.25]})
    assert grouped["audit"]["groups"]["scene"]["in_several_parts"] == 0
    assert grouped["audit"]["reading"].endswith("no scene occurs in more than one part.")


def test_tiles_cut_from_one_image_are_grouped_by_their_file_names():
    names = [f"nuclei{k}_tile{t}.tif" for k in (1, 2) for t in range(4)] + ["other.tif", "b_r2c3.png", "b_r2c4.png"]
    meta = image_meta(names)
    parts = {"train": [0, 1, 2, 4, 5, 8, 9], "valid": [6, 7], "test": [3, 10]}
    groups = audit_split(meta, parts, method="random")["groups"]
    tiles = groups["tile_source"]
    assert tiles["groups"] == 4  # nuclei1, nuclei2, other, b
    assert tiles["in_several_parts"] == 3
    assert tiles["test_rows_with_train_group"] == 2
    assert [e["group"] for e in tiles["examples"]] == ["b", "nuclei1", "nuclei2"]
    assert groups["scene"]["in_several_parts"] == 0  # every stem is its own scene


def test_group_audit_counts_rows_per_part_and_ignores_missing_groups():
    values = np.array(["a", "a", "b", None, "c", "c", "c"], dtype=object)
    parts = {"train": [0, 2, 4], "valid": [5], "test": [1, 3, 6]}
    g = group_audit({"well": values}, parts)["well"]
    assert g["groups"] == 3 and g["in_several_parts"] == 2
    assert g["rows_in_shared_groups"] == 5
    assert g["test_rows"] == 3 and g["test_rows_with_train_group"] == 2
    assert g["examples"] == [{"group": "a", "train": 1, "valid": 0, "test": 1},
                             {"group": "c", "train": 1, "valid": 1, "test": 1}]


# -- the split stage and its file ---------------------------------------------------------------
def test_split_stage_writes_the_molecule_audit_with_and_without_reusable_bits(tmp_path):
    from biodl.dataset import featurize_source
    from biodl.stages.split import split_dataset

    smiles = series_smiles()
    csv = tmp_path / "series.csv"
    pd.DataFrame({"smiles": smiles, "y": np.arange(len(smiles), dtype=float)}).to_csv(csv, index=False)
    src = {"format": "csv", "path": str(csv), "input": "smiles", "targets": ["y"]}
    audits = {}
    for name, spec in (("bits", {"type": "ecfp", "radius": 2, "n_bits": 2048}),
                       ("small", {"type": "ecfp", "radius": 2, "n_bits": 256})):
        featurize_source(src, spec, tmp_path / name, progress=False)
        out = tmp_path / f"{name}.json"
        split = split_dataset(tmp_path / name, {"method": "random"}, out, seed=0, dataset="series")
        on_disk = json.loads(out.read_text())
        assert on_disk["audit"] == split["audit"]
        audits[name] = on_disk["audit"]
    assert audits["bits"] == audits["small"]  # the 2048-bit features are the audit's own fingerprints
    assert audits["bits"]["molecules"]["test"]["shared_scaffold_share"] >= 0.7
    assert audits["bits"]["reading"].startswith("random split: ")


def test_split_stage_writes_the_interval_audit(tmp_path):
    from biodl.dataset import featurize_source
    from biodl.stages.split import split_dataset

    rng = np.random.default_rng(0)
    records = []
    for k in range(60):  # 100 bp windows every 50 bp on three chromosomes: neighbours overlap
        seq = "".join(rng.choice(list("ACGT"), 100))
        records.append(f">chr{k % 3 + 1}:{50 * (k // 3)}-{50 * (k // 3) + 100}\n{seq}\n")
    fasta = tmp_path / "windows.fa"
    fasta.write_text("".join(records))
    featurize_source({"format": "fasta", "path": str(fasta)}, {"type": "onehot"}, tmp_path / "f", progress=False)
    split = split_dataset(tmp_path / "f", {"method": "random"}, tmp_path / "s.json")
    audit = load_split(tmp_path / "s.json")["audit"]
    assert audit == split["audit"] and audit["modality"] == "sequence"
    assert audit["intervals"]["test"]["overlap_train"] > 0
    assert f"{audit['intervals']['test']['overlap_train']} of {audit['intervals']['test']['n']} test intervals" \
        in audit["reading"]
    held_out = split_dataset(tmp_path / "f", {"method": "chromosome", "valid": ["chr2"], "test": ["chr3"]},
                             tmp_path / "c.json")
    assert held_out["audit"]["intervals"]["test"]["overlap_train"] == 0


def test_the_record_is_deterministic_json_and_old_split_files_still_load(tmp_path):
    meta = molecule_meta(series_smiles())
    a = make_split(meta, None, {"method": "random", "seed": 5})
    b = make_split(meta, None, {"method": "random", "seed": 5})
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    path = save_split(a, tmp_path / "new.json")
    assert load_split(path) == a
    old = {k: v for k, v in a.items() if k != "audit"}
    old["audit"] = {k: a["audit"][k] for k in ("key", "duplicated_keys", "rows_in_leaking_groups", "examples",
                                                "within_part_duplicates")}
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert load_split(tmp_path / "old.json")["audit"]["duplicated_keys"] == 0


def fingerprint_rows(*on_bits) -> np.ndarray:
    """uint8 (len(on_bits), 2048) rows with the given bits set."""
    bits = np.zeros((len(on_bits), 2048), np.uint8)
    for i, on in enumerate(on_bits):
        bits[i, list(on)] = 1
    return bits


def test_a_neighbour_at_exactly_the_threshold_counts_and_ratios_land_in_their_own_bin():
    bits = fingerprint_rows(range(5),                              # train
                            range(4),                              # 4/5 = 0.8 exactly
                            [0, 1, 2, 100, 101, 102],              # 3/8
                            range(20, 30),                         # 0
                            range(7))                              # valid: 5/7
    parts = {"train": [0], "valid": [4], "test": [1, 2, 3]}
    mol = molecule_audit(np.array(["C"] * 5, object), parts, scaffolds=["a", "a", "b", "", "a"], fingerprints=bits)
    assert mol["test"]["neighbour"] == 1 and mol["test"]["neighbour_share"] == 0.3333
    assert mol["test"]["max_similarity"]["max"] == 0.8 and mol["test"]["max_similarity"]["median"] == 0.375
    assert mol["test"]["histogram"] == [1, 0, 0, 1, 0, 0, 0, 0, 1, 0]
    assert mol["valid"]["histogram"] == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0] and mol["valid"]["neighbour"] == 0
    assert mol["test"]["shared_scaffold"] == 1 and mol["test"]["acyclic"] == 1
    # 7/10 is 0.7 to the last bit, so it goes in [0.7, 0.8), not [0.6, 0.7)
    seven = fingerprint_rows(range(10), range(7), range(10), range(7))
    assert max_tanimoto(seven[1:2], seven[:1]).tolist() == [0.7]
    exact = molecule_audit(np.array(["C"] * 4, object), {"train": [0], "valid": [2], "test": [1, 3]},
                           scaffolds=["", "", "", ""], fingerprints=seven)
    assert exact["test"]["histogram"] == [0, 0, 0, 0, 0, 0, 0, 2, 0, 0]
    assert exact["valid"]["histogram"][9] == 1 and exact["valid"]["neighbour"] == 1  # 1.0 sits in the last bin


def test_split_stage_writes_the_image_group_audit(tmp_path):
    import tifffile

    from biodl.bbbc005 import bbbc005_name
    from biodl.dataset import featurize_source
    from biodl.stages.split import split_dataset

    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    for count in (2, 4, 6, 8):
        for site in (1, 2):
            for blur in (1, 4, 7):
                tifffile.imwrite(folder / bbbc005_name(count, blur, site), rng.integers(0, 255, (12, 12), np.uint8))
    featurize_source({"format": "images", "path": str(folder), "labels": "bbbc005"}, {"type": "image", "size": 8},
                     tmp_path / "f", progress=False)
    split = split_dataset(tmp_path / "f", {"method": "random", "fractions": [0.5, 0.25, 0.25]}, tmp_path / "r.json")
    scene = load_split(tmp_path / "r.json")["audit"]["groups"]["scene"]
    assert scene["groups"] == 8 and scene["in_several_parts"] > 0
    assert scene == split["audit"]["groups"]["scene"] and split["audit"]["modality"] == "image"
    grouped = split_dataset(tmp_path / "f", {"method": "group", "key": "scene", "fractions": [0.5, 0.25, 0.25]},
                            tmp_path / "g.json")
    assert grouped["audit"]["groups"]["scene"]["in_several_parts"] == 0
