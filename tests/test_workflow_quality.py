"""Workflow hygiene: `snakemake --lint` is clean; a GPU experiment's training job asks for a GPU (and
tells biodl it did); changing one experiment's parameter reruns only that experiment's jobs; a misspelt
config key is rejected by name, by Snakemake and by the CLI; config/README.md documents every key."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from biodl.spec import SCHEMA_PATH
from tests.conftest import ROOT, snakemake_env, run_cli
from tests.test_workflow import copy_workflow


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = snakemake_env()
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True,
                          text=True, env=env, timeout=300, check=False)


@pytest.fixture
def workdir(tmp_path):
    return copy_workflow(tmp_path)


def test_lint_is_clean(workdir):
    proc = snakemake(workdir, "--lint")
    assert proc.returncode == 0 and "Congratulations" in proc.stdout + proc.stderr, proc.stdout[-4000:]


def test_gpu_experiment_asks_for_a_gpu(workdir):
    shutil.copy(ROOT / "tests" / "configs" / "slurm.yaml", workdir / "config" / "config.yaml")
    proc = snakemake(workdir, "--dry-run", "--printshellcmds", "--cores", "2",
                     "results/models/fs_gpu/rep0/manifest.json", "results/models/fs_cpu/rep0/manifest.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocks = {m.group(1): m.group(0) for m in re.finditer(r"rule train:.*?wildcards: experiment=(\w+).*?"
                                                          r"biodl train", proc.stdout, re.DOTALL)}
    assert set(blocks) == {"fs_gpu", "fs_cpu"}
    assert "gpu=1, cpus_per_gpu=1" in blocks["fs_gpu"] and "BIODL_EXPECT_GPU=1 " in blocks["fs_gpu"]
    assert "gpu=0, cpus_per_gpu=0" in blocks["fs_cpu"] and "BIODL_EXPECT_GPU=0 " in blocks["fs_cpu"]


def _plan(workdir: Path) -> dict[str, str]:
    """output file -> Snakemake's plan for it ("no update" or why it reruns)."""
    proc = snakemake(workdir, "--summary")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("\t") for line in proc.stdout.splitlines()[1:] if "\t" in line]
    return {row[0]: (row[2], row[-1]) for row in rows}


def test_changing_one_experiment_reruns_only_its_jobs(workdir):
    shutil.copy(ROOT / "tests" / "configs" / "small.yaml", workdir / "config" / "config.yaml")
    # every output of the small config, marked as made (--touch records provenance without running)
    for path, (rule, _) in _plan(workdir).items():
        target = workdir / path
        if rule in ("simulate_cells", "interpret", "screen_shard", "screen_gather"):  # directory outputs
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    assert snakemake(workdir, "--touch", "--forceall", "--cores", "1").returncode == 0
    assert {plan for _, plan in _plan(workdir).values()} == {"no update"}

    config_path = workdir / "config" / "config.yaml"
    original = config_path.read_text()
    config = yaml.safe_load(original)
    name = next(n for n, e in config["experiments"].items() if "baseline" in e)
    config["experiments"][name].setdefault("train", {})["lr"] = 1.234e-3
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    pending = {path for path, (_, plan) in _plan(workdir).items() if plan != "no update"}
    # that experiment's model and everything downstream of it (its baseline is untouched), and the
    # leaderboard over all experiments
    expected = {f"results/models/{name}/rep0/manifest.json", f"results/models/{name}/rep0/model.pt",
                f"results/predictions/{name}/rep0.parquet",
                f"results/metrics/{name}/rep0.json", f"results/metrics/{name}.json"}
    assert expected <= pending
    # and the screens that score a library with that model
    screens = {path for s, block in (config.get("screens") or {}).items() if block["experiment"] == name
               for path in (*(f"results/screens/{s}/{part}" for part in ("gathered", "shard0", "shard1")),
                            f"results/reports/screens/{s}.html")}
    assert pending - expected <= {f"results/reports/{name}.html", "results/reports/index.html", *screens}

    config = yaml.safe_load(original)  # the deep model as it was; the baseline changed instead
    config["experiments"][name]["baseline"]["min_samples_leaf"] = 3
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    pending = {path for path, (_, plan) in _plan(workdir).items() if plan != "no update"}
    assert {f"results/predictions/{name}/rep0.baseline.parquet", f"results/metrics/{name}/rep0.json",
            f"results/metrics/{name}.json"} <= pending
    assert not any(p.startswith(("results/models/", "results/features/")) for p in pending)

    # the interpretation block reruns the interpretation and the report only, never training
    config = yaml.safe_load(original)
    interpreted = next(n for n, e in config["experiments"].items() if "interpret" in e)
    config["experiments"][interpreted]["interpret"]["draw"] = 2
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    pending = {path for path, (_, plan) in _plan(workdir).items() if plan != "no update"}
    assert pending == {f"results/interpret/{interpreted}", f"results/reports/{interpreted}.html"}, pending

    # model.pt is train's declared output and predict's input: a lost model file is retrained and
    # predicted again, not read by a predict job that Snakemake thinks is up to date
    config_path.write_text(original)
    proc = snakemake(workdir, "--dry-run", "--forceall", "--cores", "1", f"results/predictions/{name}/rep0.parquet")
    blocks = {b.split("\n", 1)[0].strip(): b for b in proc.stdout.split("rule ")[1:]}
    assert f"results/models/{name}/rep0/model.pt" in blocks["train:"].split("output:")[1].split("\n")[0]
    assert f"results/models/{name}/rep0/model.pt" in blocks["predict:"].split("input:")[1].split("\n")[0]


@pytest.mark.parametrize("where, edit, key", [
    ("top level", lambda c: c.update(sed=c.pop("seed")), "sed"),
    ("experiment", lambda c: c["experiments"]["fs_gpu"].update(gpus=c["experiments"]["fs_gpu"].pop("gpu")),
     "gpus"),
])
def test_misspelt_key_is_rejected_by_name(workdir, where, edit, key):
    config = yaml.safe_load((ROOT / "tests" / "configs" / "slurm.yaml").read_text())
    edit(config)
    path = workdir / "config" / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = snakemake(workdir, "--dry-run")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr[-2000:]
    assert f"unknown key '{key}'" in proc.stderr
    code, _, err = run_cli("featurize", "--config", path, "--dataset", "freesolv", "--featurizer",
                           "descriptors", "-o", workdir / "out")
    assert code == 2 and f"unknown key '{key}'" in err and len(err.strip().splitlines()) == 1, err


def _schema_keys(schema: dict, prefix: str = "") -> set[str]:
    """Every named key the schema defines (named properties, not free-form names such as datasets)."""
    keys = set()
    for name, sub in schema.get("properties", {}).items():
        keys.add(name)
        keys |= _schema_keys(sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        keys |= _schema_keys(extra)
    if isinstance(schema.get("items"), dict):
        keys |= _schema_keys(schema["items"])
    for sub in schema.get("$defs", {}).values():  # every block of the generated schema
        keys |= _schema_keys(sub)
    return keys


def test_config_readme_documents_every_key():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    readme = (ROOT / "config" / "README.md").read_text()
    prose = "\n".join(line for line in readme.splitlines() if not line.startswith("```"))
    documented = {word for span in re.findall(r"`([^`\n]+)`", prose) for word in re.findall(r"[A-Za-z_]+", span)}
    documented |= set(re.findall(r"\b([A-Za-z_]+):", readme))  # keys in the YAML examples
    missing = sorted(k for k in _schema_keys(schema) if k not in documented)
    assert not missing, f"config/README.md does not document: {missing}"


def test_a_configfile_replaces_the_demo_config_and_config_amends_it(workdir, tmp_path):
    """A user's --configfile plans only the user's experiments (it used to merge into the seven demo
    ones); several files merge in order; --config KEY=VALUE still amends the demo config."""
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({
        "featurizers": {"fp": {"type": "ecfp", "n_bits": 256}},
        "datasets": {"fs": {"source": {"format": "csv", "path": "data/molecules/freesolv.csv", "input": "smiles",
                                       "targets": ["expt"]},
                            "featurizers": ["fp"], "splits": {"random": {"method": "random"}}}},
        "experiments": {"my_mlp": {"dataset": "fs", "featurizer": "fp", "split": "random", "task": "regression",
                                   "model": {"type": "mlp"}, "replicates": 2}}}))
    demo = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["experiments"]

    def planned(*args):
        proc = snakemake(workdir, "--dry-run", "--cores", "1", *args)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return set(re.findall(r"results/metrics/([A-Za-z0-9_-]+)\.json", proc.stdout))

    assert planned("--configfile", str(mine)) == {"my_mlp"}
    heavy = yaml.safe_load((ROOT / "config" / "benchmark.yaml").read_text())["experiments"]
    assert "oct4_bigru" in heavy and not set(heavy) & set(demo)
    assert planned("--configfile", "config/config.yaml", "config/benchmark.yaml") == set(demo) | set(heavy)
    assert planned("--config", "seed=3") == set(demo)
