"""biodl init: a user's own data (made here, not the demo files) → a config the workflow runs as is.

End to end for each modality: ``biodl init``, ``biodl check``, then the exact ``snakemake`` command
init printed (with epochs, search and replicates shrunk in the YAML) must write the user's reports
and a leaderboard of the user's experiments only.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from pathlib import Path

import numpy as np
import yaml

from tests.conftest import ROOT, run_cli, snakemake_env

SUBSTITUENTS = ["C", "CC", "O", "N", "Cl", "F", "OC", "C(=O)O", "C#N", "CCC", "Br", "C(F)(F)F"]
#: ring systems with two substitution points: 72 molecules fall into 11 Bemis-Murcko scaffolds
CORES = ["c1ccc({a})cc1{b}", "c1cc({a})ncc1{b}", "C1CCC({a})CC1{b}", "c1cc({a})sc1{b}", "c1ccc2cc({a})ccc2c1{b}",
         "c1cc({a})oc1{b}", "C1CC({a})CN1{b}", "c1cnc({a})nc1{b}", "C1CC({a})C1{b}", "c1ccc2[nH]c({a})cc2c1{b}",
         "C1CCOC({a})C1{b}", "c1cc({a})c(cn1){b}"]
MOTIF = "TGACTCA"  # AP-1: planted in every positive sequence


# -- data the tests make ------------------------------------------------------------------------
def molecules(seed: int = 0) -> list[tuple[str, float]]:
    """(SMILES, Crippen logP + noise) for 72 substituted ring systems."""
    from rdkit import Chem
    from rdkit.Chem import Crippen

    rng = np.random.default_rng(seed)
    out = {}
    for core in CORES:
        combos = [(a, b) for a in SUBSTITUENTS for b in ("", "C", "O")]
        for k in rng.permutation(len(combos))[:6]:
            a, b = combos[k]
            mol = Chem.MolFromSmiles(core.format(a=a, b=b))
            out[Chem.MolToSmiles(mol)] = Crippen.MolLogP(mol) + rng.normal(0, 0.2)
    return list(out.items())


def write_molecule_csv(path: Path, *, binary: bool = False) -> Path:
    rows = molecules()
    lines = ["compound_id,name,smiles,logp,active"]
    for i, (smiles, logp) in enumerate(rows):
        lines.append(f"M{i:03d},compound {i},{smiles},{logp:.3f},{int(logp > 2.0)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_fasta_pair(folder: Path, n: int = 60, length: int = 60, coordinates: bool = True) -> tuple[Path, Path]:
    """Random sequences on 8 chromosomes; the positives carry the motif at a random place."""
    rng = np.random.default_rng(1)
    files = []
    for label, stem in ((1, "bound"), (0, "unbound")):
        records = []
        for i in range(n):
            seq = "".join(rng.choice(list("ACGT"), size=length))
            if label:
                at = rng.integers(0, length - len(MOTIF))
                seq = seq[:at] + MOTIF + seq[at + len(MOTIF):]
            chrom, start = f"chr{rng.integers(1, 9)}", int(rng.integers(1, 10**7))
            header = f"{chrom}:{start}-{start + length} peak{i}" if coordinates else f"{stem}_{i}"
            records.append(f">{header}\n{seq}\n")
        path = folder / f"{stem}.fa"
        path.write_text("".join(records))
        files.append(path)
    return files[0], files[1]


def write_blob_images(folder: Path, n: int = 48, size: int = 40) -> Path:
    """Gray PNGs with 1-8 bright blobs each, and labels.csv: the blob count per file name."""
    from PIL import Image

    rng = np.random.default_rng(2)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    lines = ["file,n_blobs"]
    for i in range(n):
        count = int(rng.integers(1, 9))
        img = rng.normal(20, 4, (size, size))
        for _ in range(count):
            cy, cx = rng.integers(4, size - 4, 2)
            img += 200 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 6.0)
        name = f"tile_{i:03d}.png"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / name)
        lines.append(f"{name},{count}")
    labels = folder.parent / "labels.csv"
    labels.write_text("\n".join(lines) + "\n")
    return labels


# -- helpers --------------------------------------------------------------------------------------
def init(*args, cwd: Path | None = None) -> tuple[int, str, str]:
    return run_cli("init", *map(str, args), cwd=cwd)


def config_of(project: Path) -> dict:
    return yaml.safe_load((project / "config" / "config.yaml").read_text())


def shrink(project: Path) -> None:
    """Seconds instead of minutes: few epochs, no search, one replicate, small ensembles and forests."""
    path = project / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    for exp in config["experiments"].values():
        exp["train"].update(epochs=3, patience=2)
        exp["replicates"] = 1
        exp.pop("search", None)
        unc = exp["uncertainty"]
        if unc.get("method") == "ensemble":
            unc["members"] = 2
        if unc.get("method") == "mc_dropout":
            unc["passes"] = 3
        if exp["baseline"]["type"] == "random_forest":
            exp["baseline"]["n_estimators"] = 10
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def printed_snakemake(stdout: str) -> list[str]:
    line = next(line.strip() for line in stdout.splitlines() if line.strip().startswith("snakemake "))
    return shlex.split(line)


def run_project(project: Path, stdout: str, cwd: Path) -> subprocess.CompletedProcess:
    """The snakemake command init printed, run from where the user ran init."""
    command = printed_snakemake(stdout)
    t0 = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=snakemake_env(), capture_output=True, text=True, timeout=600,
                          check=False)
    print(f"{project.name}: snakemake {time.perf_counter() - t0:.1f} s")
    return proc


def check_run(project: Path, proc: subprocess.CompletedProcess, experiments: list[str]) -> None:
    assert proc.returncode == 0, proc.stderr[-4000:]
    reports = project / "results" / "reports"
    for name in experiments:
        assert (reports / f"{name}.html").is_file(), sorted(p.name for p in reports.iterdir())
    # only the user's experiments ran: no demo experiment's report, log or row in the leaderboard
    assert sorted(p.stem for p in reports.glob("*.html")) == sorted([*experiments, "index"])
    board = (reports / "index.html").read_text()
    for name in experiments:
        assert name in board
    for demo in config_of_demo()["experiments"]:
        assert demo not in board, demo
    trained = {p.relative_to(project / "logs" / "train").parts[0] for p in (project / "logs" / "train").rglob("*.log")}
    assert trained == set(experiments)
    # training progress reached the console (the train rule leaves stdout alone)
    for name in experiments:
        # (the rule may add the replicate to the label: "name/rep0: ...")
        label = rf"^{re.escape(name)}\b[^:\n]*"
        assert re.search(rf"{label}: fit 1/\d \(trial 0\) epoch 1/3: valid \w+ ", proc.stdout, re.MULTILINE), \
            proc.stdout[-3000:]
        assert re.search(rf"{label}: trained in ", proc.stdout, re.MULTILINE)


def config_of_demo() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


# -- end to end, one per modality ---------------------------------------------------------------------------
def test_molecule_csv_end_to_end(tmp_path):
    csv = write_molecule_csv(tmp_path / "my data.csv")  # a space: paths are quoted all the way
    project = tmp_path / "mols_project"
    # from the user's own folder: init prints snakemake with --snakefile pointing into the checkout
    code, out, err = init(project, "--data", csv, "--target", "logp", cwd=tmp_path)
    assert code == 0, err
    assert printed_snakemake(out) == ["snakemake", "--cores", "2", "--snakefile", str(ROOT / "Snakefile"),
                                      "--directory", str(project)]
    config = config_of(project)
    source = config["datasets"]["my_data"]["source"]
    assert source == {"format": "csv", "path": "../my data.csv", "input": "smiles", "id": "compound_id",
                      "targets": ["logp"], "meta": ["name"]}
    experiments = config["experiments"]
    assert set(experiments) == {"my_data_mlp_ecfp", "my_data_mlp_descriptors", "my_data_mlp_ecfp_scaffold"}
    assert {e["task"] for e in experiments.values()} == {"regression"}
    assert {e["split"] for e in experiments.values()} == {"random", "scaffold"}
    assert all(e["replicates"] == 3 and e["baseline"]["type"] == "random_forest" for e in experiments.values())
    assert config["featurizers"]["ecfp_counts"]["counts"] is True
    assert config["datasets"]["my_data"]["splits"]["scaffold"]["method"] == "scaffold"
    assert "# " in (project / "config" / "config.yaml").read_text()  # commented for the user
    code, _, err = run_cli("check", "--config", project / "config" / "config.yaml")
    assert code == 0, err
    shrink(project)
    check_run(project, run_project(project, out, tmp_path), list(experiments))


def test_fasta_pair_end_to_end(tmp_path):
    bound, unbound = write_fasta_pair(tmp_path)
    project = tmp_path / "dna"
    code, out, err = init(project, "--data", bound, unbound, cwd=tmp_path)
    assert code == 0, err
    config = config_of(project)
    (dataset,) = config["datasets"].values()
    assert dataset["source"]["files"] == [{"path": "../bound.fa", "label": 1.0}, {"path": "../unbound.fa", "label": 0.0}]
    assert config["featurizers"]["onehot"] == {"type": "onehot", "length": 60}
    (split,) = dataset["splits"].values()
    assert split["method"] == "chromosome" and split["valid"] and split["test"]
    assert not set(split["valid"]) & set(split["test"])
    (exp_name, exp), = config["experiments"].items()
    assert exp["task"] == "binary" and exp["model"]["type"] == "cnn1d" and exp["model"]["rc"] is True
    assert exp["baseline"]["type"] == "logistic_regression"
    assert config["featurizers"][exp["baseline"]["featurizer"]]["type"] == "kmer"
    code, _, err = run_cli("check", "--config", project / "config" / "config.yaml")
    assert code == 0, err
    shrink(project)
    check_run(project, run_project(project, out, tmp_path), [exp_name])


def test_image_folder_with_labels_end_to_end(tmp_path):
    labels = write_blob_images(tmp_path / "tiles")
    project = tmp_path / "imgs"
    # from the checkout, as README shows it: init prints `snakemake --cores 2 --directory DIR`
    code, out, err = init(project, "--data", tmp_path / "tiles", "--labels", labels, cwd=ROOT)
    assert code == 0, err
    assert printed_snakemake(out) == ["snakemake", "--cores", "2", "--directory", str(project)]
    config = config_of(project)
    assert config["datasets"]["tiles"]["source"] == {"format": "images", "path": "../tiles", "labels": "../labels.csv",
                                                     "id": "file", "targets": ["n_blobs"]}
    assert config["featurizers"] == {"image40": {"type": "image", "size": [40, 40]}}
    (exp_name, exp), = config["experiments"].items()
    assert exp["task"] == "regression" and exp["model"]["type"] == "cnn2d"
    assert exp["baseline"]["type"] == "classical_count"  # a whole-number target: a count
    code, _, err = run_cli("check", "--config", project / "config" / "config.yaml")
    assert code == 0, err
    shrink(project)
    check_run(project, run_project(project, out, ROOT), [exp_name])


# -- what init infers, without running the workflow ----------------------------------------------------------
def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("biodl init: error: "), err
    for needle in needles:
        assert needle in err, err


def test_smiles_column_is_found_by_parsing_not_by_name(tmp_path):
    rows = molecules()
    csv = tmp_path / "series.tsv"
    # the SMILES sit in a column called 'structure'; 'Unnamed: 0' is a saved row index, not a target
    csv.write_text("Unnamed: 0\tstructure\tlabel_text\tpIC50\n" + "".join(
        f"{i}\t{smi}\tseries {i % 3}\t{5 + logp / 2:.2f}\n" for i, (smi, logp) in enumerate(rows)))
    code, out, err = init(tmp_path / "p", "--data", csv)
    assert code == 0, err
    source = config_of(tmp_path / "p")["datasets"]["series"]["source"]
    assert source == {"format": "csv", "path": "../series.tsv", "input": "structure", "targets": ["pIC50"],
                      "meta": ["label_text"], "sep": "\t"}
    assert "SMILES in 'structure'" in out and "Unnamed: 0 (row numbers)" in out


def test_binary_target_gets_a_classifier_and_a_stratified_split(tmp_path):
    csv = write_molecule_csv(tmp_path / "mols.csv")
    code, _, err = init(tmp_path / "p", "--data", csv, "--target", "active")
    assert code == 0, err
    config = config_of(tmp_path / "p")
    assert config["datasets"]["mols"]["splits"]["random"]["method"] == "stratified"
    for exp in config["experiments"].values():
        assert exp["task"] == "binary"
        assert exp["uncertainty"]["method"] == "none" and exp["uncertainty"]["temperature"] is True
    code, _, err = run_cli("check", "--config", tmp_path / "p" / "config" / "config.yaml")
    assert code == 0, err


def test_sdf_properties_become_id_and_targets(tmp_path):
    from rdkit import Chem

    path = tmp_path / "mols.sdf"
    writer = Chem.SDWriter(str(path))
    for i, (smiles, logp) in enumerate(molecules()):
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("ID", f"M{i}")
        mol.SetProp("logP", f"{logp:.3f}")
        writer.write(mol)
    writer.close()
    code, _, err = init(tmp_path / "p", "--data", path)
    assert code == 0, err
    assert config_of(tmp_path / "p")["datasets"]["mols"]["source"] == {"format": "sdf", "path": "../mols.sdf",
                                                                      "id": "ID", "targets": ["logP"]}
    code, _, err = run_cli("check", "--config", tmp_path / "p" / "config" / "config.yaml")
    assert code == 0, err


def test_few_scaffolds_leave_the_scaffold_experiment_out(tmp_path):
    from rdkit import Chem
    from rdkit.Chem import Crippen

    # a congeneric series: 60 analogues on 3 cores cannot fill three parts with whole scaffolds
    smiles = [Chem.MolToSmiles(Chem.MolFromSmiles(core.format(a=a, b=b)))
              for core in CORES[:3] for a in SUBSTITUENTS for b in ("", "C", "O", "N", "F")][:60]
    csv = tmp_path / "series.csv"
    csv.write_text("smiles,y\n" + "".join(f"{s},{Crippen.MolLogP(Chem.MolFromSmiles(s)):.3f}\n" for s in smiles))
    code, out, err = init(tmp_path / "p", "--data", csv)
    assert code == 0, err
    config = config_of(tmp_path / "p")
    assert set(config["experiments"]) == {"series_mlp_ecfp", "series_mlp_descriptors"}
    assert "scaffold" not in config["datasets"]["series"]["splits"]
    assert "no scaffold split" in out


def test_fasta_without_coordinates_and_of_varying_length(tmp_path):
    bound, unbound = write_fasta_pair(tmp_path, coordinates=False)
    text = unbound.read_text().splitlines()
    text[1] = text[1][:45]  # one shorter sequence
    unbound.write_text("\n".join(text) + "\n")
    code, _, err = init(tmp_path / "p", "--data", bound, unbound, "--target", "ap1", "--name", "ap1_peaks")
    assert code == 0, err
    config = config_of(tmp_path / "p")
    assert config["featurizers"]["onehot"] == {"type": "onehot", "length": 60, "resize": "crop_pad"}
    assert config["datasets"]["ap1_peaks"]["source"]["target"] == "ap1"
    assert config["datasets"]["ap1_peaks"]["splits"] == {"random": {"method": "stratified",
                                                                    "fractions": [0.7, 0.15, 0.15]}}
    assert config["experiments"]["ap1_peaks_cnn"]["replicates"] == 3
    code, _, err = run_cli("check", "--config", tmp_path / "p" / "config" / "config.yaml")
    assert code == 0, err


def test_bbbc005_names_give_counts_and_a_scene_split(tmp_path):
    from biodl.simulate import simulate_cells

    simulate_cells(tmp_path / "cells", counts=range(1, 11), sites=2, blurs=(1, 23), size=32)
    code, _, err = init(tmp_path / "p", "--data", tmp_path / "cells")
    assert code == 0, err
    config = config_of(tmp_path / "p")
    assert config["datasets"]["cells"]["source"] == {"format": "images", "path": "../cells", "labels": "bbbc005"}
    assert config["datasets"]["cells"]["splits"]["scenes"]["method"] == "group"
    assert config["datasets"]["cells"]["splits"]["scenes"]["key"] == "scene"
    assert config["featurizers"] == {"image32": {"type": "image", "size": [32, 32]}}
    code, _, err = run_cli("check", "--config", tmp_path / "p" / "config" / "config.yaml")
    assert code == 0, err


def test_bad_inputs_are_one_line_exit_2(tmp_path):
    csv = write_molecule_csv(tmp_path / "mols.csv")
    one_line_error(*init(tmp_path / "p", "--data", tmp_path / "absent.csv")[::2], "no such file or folder",
                   "absent.csv")
    no_smiles = tmp_path / "plain.csv"
    no_smiles.write_text("id,name,value\n" + "".join(f"{i},thing {i},{i * 0.5}\n" for i in range(50)))
    one_line_error(*init(tmp_path / "p", "--data", no_smiles)[::2], "no SMILES column found",
                   "columns: id, name, value", "--smiles")
    no_target = tmp_path / "no_target.csv"
    no_target.write_text("smiles,name\n" + "".join(f"{s},x{i}\n" for i, (s, _) in enumerate(molecules())))
    one_line_error(*init(tmp_path / "p", "--data", no_target)[::2], "no target column found", "--target")
    # logp and active are both numbers, of two kinds: which one is meant is the user's call
    one_line_error(*init(tmp_path / "p", "--data", csv)[::2], "active", "logp", "--target")
    one_line_error(*init(tmp_path / "p", "--data", csv, "--target", "potency")[::2], "'potency' is not a column")
    fasta, _ = write_fasta_pair(tmp_path)
    one_line_error(*init(tmp_path / "p", "--data", csv, fasta)[::2], "mixed inputs")
    one_line_error(*init(tmp_path / "p", "--data", fasta)[::2], "one file per class")
    one_line_error(*init(tmp_path / "p", "--data", tmp_path / "mols.csv", "--labels", csv)[::2], "--labels")
    (tmp_path / "notes.docx").write_text("x")
    one_line_error(*init(tmp_path / "p", "--data", tmp_path / "notes.docx")[::2], "'.docx'")
    small = tmp_path / "small.csv"
    small.write_text("smiles,y\n" + "".join(f"{s},{y:.2f}\n" for s, y in molecules()[:20]))
    one_line_error(*init(tmp_path / "p", "--data", small)[::2], "20 labelled records")
    (tmp_path / "empty_folder").mkdir()
    one_line_error(*init(tmp_path / "p", "--data", tmp_path / "empty_folder")[::2], "no image files")
    assert not (tmp_path / "p" / "config" / "config.yaml").exists()  # nothing half-written


def test_an_existing_config_is_kept_unless_forced(tmp_path):
    csv = write_molecule_csv(tmp_path / "mols.csv")
    config = tmp_path / "p" / "config" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("# mine\n")
    one_line_error(*init(tmp_path / "p", "--data", csv, "--target", "logp")[::2], "exists", "--force")
    assert config.read_text() == "# mine\n"
    code, _, err = init(tmp_path / "p", "--data", csv, "--target", "logp", "--force")
    assert code == 0, err
    assert "mols_mlp_ecfp" in config.read_text()
