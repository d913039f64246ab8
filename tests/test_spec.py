"""The typed config spec: every mistake is one line naming its key path, exit code 2, in `snakemake -n`
and in the CLI, before any job runs; names, sizes and shell values cannot break the workflow."""

import copy
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from biodl.errors import UserError
from biodl.spec import SCHEMA_PATH, load_config, parse_block, parse_config, schema_text
from tests.conftest import ROOT, snakemake_env, run_cli
from tests.test_workflow import copy_workflow

DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _exp(c, name="freesolv_mlp_descriptors"):
    return c["experiments"][name]


def _set(path, value):
    """A mutation: set the key at dotted ``path`` (list indexes as ints) to ``value``."""

    def mutate(c):
        *parents, last = path
        node = c
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def _drop(path):
    def mutate(c):
        *parents, last = path
        node = c
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


def _rename_dataset(old, new):
    def mutate(c):
        c["datasets"][new] = c["datasets"].pop(old)

    return mutate


E = ("experiments", "freesolv_mlp_descriptors")
FS = ("datasets", "freesolv")
# (id, mutation of the default config, key path the message must name, a word it must contain)
BAD = [
    # types and ranges of the train block
    ("epochs-text", _set((*E, "train", "epochs"), "ten"), "train.epochs", "integer"),
    ("epochs-zero", _set((*E, "train", "epochs"), 0), "train.epochs", ">= 1"),
    ("epochs-bool", _set((*E, "train", "epochs"), True), "train.epochs", "integer"),
    ("batch-zero", _set((*E, "train", "batch_size"), 0), "train.batch_size", ">= 1"),
    ("lr-negative", _set((*E, "train", "lr"), -1), "train.lr", "> 0"),
    ("lr-nan", _set((*E, "train", "lr"), float("nan")), "train.lr", "finite"),
    ("patience-zero", _set((*E, "train", "patience"), 0), "train.patience", ">= 1"),
    ("optimizer-unknown", _set((*E, "train", "optimizer"), "adamx"), "train.optimizer", "adam"),
    ("train-misspelt", _set((*E, "train", "epoch"), 5), "train.epoch", "epochs"),
    # replicates of an experiment
    ("replicates-zero", _set((*E, "replicates"), 0), "replicates", ">= 1"),
    ("replicates-text", _set((*E, "replicates"), "five"), "replicates", "integer"),
    ("replicates-huge", _set((*E, "replicates"), 1000), "replicates", "<= 100"),
    # model blocks
    ("dropout-high", _set((*E, "model", "dropout"), 1.5), "model.dropout", "< 1"),
    ("dropout-negative", _set((*E, "model", "dropout"), -0.1), "model.dropout", ">= 0"),
    ("hidden-misspelt", _set((*E, "model", "hiddn"), [8]), "model.hiddn", "hidden"),
    ("hidden-zero", _set((*E, "model", "hidden"), [0]), "model.hidden", ">= 1"),
    ("model-type-unknown", _set((*E, "model", "type"), "transformer"), "model.type", "mlp"),
    ("model-type-missing", _drop((*E, "model", "type")), "model.type", "missing"),
    ("model-not-mapping", _set((*E, "model"), "mlp"), "model", "mapping"),
    ("activation-unknown", _set((*E, "model", "activation"), "swish"), "model.activation", "relu"),
    ("model-vs-features", _set((*E, "model"), {"type": "cnn2d"}), "model.type", "image"),
    # featurizers
    ("radius-negative", _set(("featurizers", "ecfp", "radius"), -1), "featurizers.ecfp.radius", ">= 0"),
    ("nbits-negative", _set(("featurizers", "ecfp", "n_bits"), -5), "featurizers.ecfp.n_bits", ">= 1"),
    ("kmer-k", _set(("featurizers", "kmer5", "k"), 12), "featurizers.kmer5.k", "<= 8"),
    ("featurizer-type", _set(("featurizers", "ecfp", "type"), "morgan"), "featurizers.ecfp.type", "ecfp"),
    ("featurizer-param", _set(("featurizers", "ecfp", "radus"), 2), "featurizers.ecfp.radus", "radius"),
    ("image-mode", _set(("featurizers", "image128", "mode"), "zoom"), "featurizers.image128.mode", "resize"),
    # the simulator
    ("simulate-size-one-side-list", _set(("simulate_cells", "size"), [696]), "simulate_cells.size", "2 items"),
    ("simulate-size-small-pair", _set(("simulate_cells", "size"), [8, 8]), "simulate_cells.size[0]", ">= 16"),
    ("simulate-size-text", _set(("simulate_cells", "size"), "696x520"), "simulate_cells.size", "[width, height]"),
    # top level
    ("top-misspelt", _set(("experimentz",), {}), "experimentz", "experiments"),
    ("seed-text", _set(("seed",), "zero"), "seed", "integer"),
    ("n-jobs-zero", _set(("n_jobs",), -5), "n_jobs", ">= -1"),
    ("datasets-missing", _drop(("datasets",)), "datasets", "missing"),
    # sources
    ("source-format", _set((*FS, "source", "format"), "xlsx"), "datasets.freesolv.source.format", "csv"),
    ("source-misspelt", _set((*FS, "source", "inputs"), "smiles"), "datasets.freesolv.source.inputs", "input"),
    ("source-path-newline", _set((*FS, "source", "path"), "a\nb"), "datasets.freesolv.source.path", "match"),
    ("fasta-half-labelled", _set(("datasets", "oct4_mafk_test", "source", "files", 1), {"path": "x.fa"}),
     "datasets.oct4_mafk_test.source", "label"),
    ("source-vs-featurizer", _set((*FS, "featurizers"), ["image128"]), "datasets.freesolv.featurizers[0]", "image"),
    # splits
    ("split-method", _set((*FS, "splits", "random", "method"), "time"), "datasets.freesolv.splits.random.method",
     "scaffold"),
    ("split-fractions", _set((*FS, "splits", "random", "fractions"), [0.8, 0.2]),
     "datasets.freesolv.splits.random.fractions", "3"),
    ("split-fraction-range", _set((*FS, "splits", "random", "fractions"), [1.5, 0.1, 0.1]),
     "datasets.freesolv.splits.random.fractions[0]", "<= 1"),
    ("kfold-folds", _set((*FS, "splits", "random"), {"method": "kfold", "n_folds": 2}),
     "datasets.freesolv.splits.random.n_folds", ">= 3"),
    # cross-references
    ("split-undefined", _set((*E, "split"), "scaffoldx"), f"{'.'.join(E)}.split", "scaffold"),
    ("keep-positives-regression", _set(("datasets", "esol", "splits", "random"),
                                       {"method": "scaffold", "keep_positives": True}),
     "datasets.esol.splits.random.keep_positives", "binary"),
    ("class-weight-regression", _set((*E, "train", "class_weight"), "balanced"), f"{'.'.join(E)}.train.class_weight",
     "binary tasks"),
    ("augment-not-dna", _set((*E, "train", "augment"), "reverse_complement"), f"{'.'.join(E)}.train.augment",
     "DNA codes"),
    ("load-disk-graphs", lambda c: (c["featurizers"].update(graph={"type": "molgraph"}),
                                     c["datasets"]["freesolv"]["featurizers"].append("graph"),
                                     _exp(c).update(featurizer="graph", model={"type": "mpnn"},
                                                    train={"load": "disk"})),
     f"{'.'.join(E)}.train.load", "molecular graphs"),
    ("sigmoid-output-binary", _set(("experiments", "oct4_cnn_rc", "model", "output"), "sigmoid"),
     "experiments.oct4_cnn_rc.model.output", "regression targets in (0, 1)"),
    ("fasta-header-and-file-labels", _set(("datasets", "oct4_mafk_test", "source", "header_targets"), ["jund"]),
     "datasets.oct4_mafk_test.source", "not both"),
    ("bed-without-genome", _set(("datasets", "oct4_mafk_test", "source"), {"format": "bed", "path": "a.bed", "length": 200}),
     "datasets.oct4_mafk_test.source.genome", "missing"),
    ("bed-score-column", _set(("datasets", "oct4_mafk_test", "source"), {"format": "bed", "path": "a.bed", "length": 200,
                                                                          "genome": "g.fa", "score_column": 2, "target": "s"}),
     "datasets.oct4_mafk_test.source.score_column", ">= 4"),
    ("blocks-size", _set(("datasets", "oct4_mafk_train", "splits", "chromosomes"), {"method": "blocks", "block_size": 0}),
     "datasets.oct4_mafk_train.splits.chromosomes.block_size", ">= 1"),
    ("dataset-undefined", _set((*E, "dataset"), "hiv"), f"{'.'.join(E)}.dataset", "hiv"),
    ("featurizer-unlisted", _set((*E, "featurizer"), "onehot"), f"{'.'.join(E)}.featurizer", "listed"),
    ("featurizer-undefined", _set((*FS, "featurizers"), ["ecfp", "maccs"]), "datasets.freesolv.featurizers[1]",
     "maccs"),
    ("test-set-undefined", _set((*E, "test_sets"), ["nope"]), f"{'.'.join(E)}.test_sets[0]", "nope"),
    ("test-set-featurizer", _set(("experiments", "solubility_mlp_ecfp", "test_sets"), ["cells"]),
     "experiments.solubility_mlp_ecfp.test_sets[0]", "ecfp"),
    ("test-set-self", _set((*E, "test_sets"), ["freesolv"]), f"{'.'.join(E)}.test_sets[0]", "own dataset"),
    ("baseline-featurizer", _set((*E, "baseline", "featurizer"), "kmer5"), f"{'.'.join(E)}.baseline.featurizer",
     "kmer5"),
    ("baseline-task", _set((*E, "baseline"), {"type": "logistic_regression"}), f"{'.'.join(E)}.baseline.type",
     "binary"),
    ("baseline-param", _set((*E, "baseline", "n_trees"), 5), f"{'.'.join(E)}.baseline.n_trees", "n_estimators"),
    ("heteroscedastic-binary", _set(("experiments", "oct4_cnn_rc", "uncertainty", "heteroscedastic"), True),
     "experiments.oct4_cnn_rc.uncertainty.heteroscedastic", "regression"),
    ("search-value", _set((*E, "search", "space", "model.dropout"), [0.1, 1.5]),
     f"{'.'.join(E)}.search.space.model.dropout[1]", "< 1"),
    ("search-param", _set((*E, "search", "space", "model.hiddn"), [[8]]), f"{'.'.join(E)}.search.space.model.hiddn",
     "hidden"),
    ("search-key", _set((*E, "search", "space", "optimizer.lr"), [0.1]), f"{'.'.join(E)}.search.space", "model"),
    ("uncertainty-level", _set((*E, "uncertainty", "levels"), [0.9, 1.2]), f"{'.'.join(E)}.uncertainty.levels[1]",
     "< 1"),
    ("uncertainty-method", _set((*E, "uncertainty", "method"), "bayes"), f"{'.'.join(E)}.uncertainty.method",
     "ensemble"),
    # interpretation (issue 14)
    ("interpret-method", _set(("experiments", "solubility_mlp_ecfp", "interpret", "method"), "ism"),
     "experiments.solubility_mlp_ecfp.interpret.method", "occlusion"),
    ("interpret-featurizer", _set((*E, "interpret"), {}), f"{'.'.join(E)}.interpret", "rdkit_descriptors"),
    ("interpret-part", _set(("experiments", "oct4_cnn_rc", "interpret", "part"), "oct4_test"),
     "experiments.oct4_cnn_rc.interpret.part", "oct4_mafk_test"),
    ("interpret-task", _set(("experiments", "oct4_cnn_rc", "interpret", "task"), "mafk"),
     "experiments.oct4_cnn_rc.interpret.task", "oct4"),
    ("interpret-dna-key", _set(("experiments", "cells_cnn_count", "interpret", "motif_width"), 12),
     "experiments.cells_cnn_count.interpret.motif_width", "onehot"),
    ("interpret-stride", _set(("experiments", "cells_cnn_count", "interpret", "stride"), 32),
     "experiments.cells_cnn_count.interpret.stride", "window"),
    ("interpret-segmentation-task", _set(("experiments", "cells_unet", "interpret", "task"), "count"),
     "experiments.cells_unet.interpret.task", "cell area"),
    ("interpret-items", _set(("experiments", "oct4_cnn_rc", "interpret", "items"), 0),
     "experiments.oct4_cnn_rc.interpret.items", ">= 1"),
    # screens (issue 15)
    ("screen-experiment", _set(("screens",), {"s": {"experiment": "nope", "library": "lib.smi"}}),
     "screens.s.experiment", "nope"),
    ("screen-not-molecules", _set(("screens",), {"s": {"experiment": "oct4_cnn_rc", "library": "lib.smi"}}),
     "screens.s.experiment", "molecule model"),
    ("screen-picks", _set(("screens",), {"s": {"experiment": "freesolv_mlp_descriptors", "library": "lib.smi",
                                                "top": 10, "picks": 20}}), "screens.s.picks", "top"),
    ("screen-filter", _set(("screens",), {"s": {"experiment": "freesolv_mlp_descriptors", "library": "lib.smi",
                                                 "filters": ["painz"]}}), "screens.s.filters[0]", "painz"),
    ("screen-library", _set(("screens",), {"s": {"experiment": "freesolv_mlp_descriptors", "library": "lib.xlsx"}}),
     "screens.s.library", "match"),
    # names
    ("dataset-name-traversal", _rename_dataset("solubility_test", "../x"), "datasets", "names become file names"),
    ("dataset-name-space", _rename_dataset("solubility_test", "a b"), "datasets", "names become file names"),
    ("experiment-index", lambda c: c["experiments"].update(index=c["experiments"].pop("oct4_cnn_rc")),
     "experiments", "index"),
]


def _write_bad(tmp_path, mutate) -> Path:
    config = copy.deepcopy(DEFAULT)
    mutate(config)
    path = tmp_path / "bad.yaml"
    # yaml cannot write NaN as a plain float the same way everywhere: json is valid YAML
    path.write_text(yaml.safe_dump(config))
    return path


def _has_nan(value) -> bool:
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return isinstance(value, float) and value != value


def test_the_table_covers_forty_mistakes():
    assert len(BAD) >= 40 and len({case[0] for case in BAD}) == len(BAD)


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_config_is_one_line_naming_the_key_in_the_api_and_the_cli(tmp_path, case):
    _, mutate, key, word = case
    path = _write_bad(tmp_path, mutate)
    with pytest.raises(UserError) as info:
        load_config(path)
    message = str(info.value)
    assert key in message and word in message, message
    assert "\n" not in message and len(message) < 400
    code, out, err = run_cli("check", "--config", path)
    assert code == 2 and err.strip().count("\n") == 0 and key in err and "Traceback" not in err, err


def _snakemake(workdir: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = snakemake_env()
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def dry_workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("dry"))


@pytest.mark.slow
def test_bad_configs_stop_snakemake_before_it_plans(dry_workdir, tmp_path):
    """Every sixth case of the table (a spread over its sections), through `snakemake -n`: exit 2, one
    line, the key named. The Snakefile checks with the same spec function the CLI does, and every case
    goes through the API and the CLI above; each snakemake start costs ~1.3 s, all cases two minutes."""
    for name, mutate, key, _word in BAD[::6]:
        path = _write_bad(tmp_path, mutate)
        # --configfile merges into config/config.yaml: give the whole bad config as the default instead
        (dry_workdir / "config" / "config.yaml").write_text(path.read_text())
        proc = _snakemake(dry_workdir, "-n", "--cores", "1", "--quiet")
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2, (name, proc.stderr[-2000:])
        assert len(lines) == 1 and key in lines[0] and "Traceback" not in proc.stderr, (name, proc.stderr[-2000:])
        assert not (dry_workdir / "results").exists()


def test_default_and_test_configs_pass(tmp_path):
    spec = load_config(ROOT / "config" / "config.yaml")
    assert spec.seed == 0 and "freesolv" in spec.datasets
    assert json.dumps(spec.model_dump(mode="json"))  # JSON-able: the workflow passes blocks on command lines
    for path in (ROOT / "tests" / "configs").glob("*.yaml"):
        load_config(path)
    assert run_cli("check", "--config", ROOT / "config" / "config.yaml")[0] == 0


def test_simulate_cells_size_is_a_side_or_width_and_height():
    import jsonschema

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    for size in (128, [696, 520]):
        config = {**copy.deepcopy(DEFAULT), "simulate_cells": {**DEFAULT["simulate_cells"], "size": size}}
        spec = parse_config(config)
        assert spec.simulate_cells.size == size and spec.simulate_cells.dump()["size"] == size
        jsonschema.validate(config, schema)
    for bad in ([696], [8, 8], [696, 520, 1], "696x520", 128.0):
        config = {**copy.deepcopy(DEFAULT), "simulate_cells": {**DEFAULT["simulate_cells"], "size": bad}}
        with pytest.raises(UserError, match=r"simulate_cells\.size"):
            parse_config(config)
        if bad != 128.0:  # JSON Schema counts 128.0 as an integer; the spec is strict
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(config, schema)


def test_a_block_is_passed_on_as_written():
    spec = load_config(ROOT / "config" / "config.yaml")
    assert spec.experiments["oct4_cnn_rc"].model.dump() == DEFAULT["experiments"]["oct4_cnn_rc"]["model"]
    assert spec.featurizers["ecfp"].dump() == DEFAULT["featurizers"]["ecfp"]


def test_checked_in_schema_is_generated_from_the_spec():
    assert SCHEMA_PATH.read_text() == schema_text(), "stale schema: run python -m biodl.spec"
    assert (ROOT / "workflow" / "schemas" / "config.schema.yaml").resolve() == SCHEMA_PATH.resolve()


def test_schema_accepts_what_the_spec_accepts_and_rejects_a_range_error():
    import jsonschema

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    jsonschema.validate(DEFAULT, schema)
    bad = copy.deepcopy(DEFAULT)
    _exp(bad)["model"]["dropout"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_model_parameters_match_the_torch_classes():
    """biodl.model_params declares the models' parameters without torch; it must equal their signatures."""
    from biodl.model_params import MODEL_PARAMS
    from biodl.models import MODELS

    assert MODEL_PARAMS.names() == MODELS.names()
    for name in MODELS.names():
        declared = inspect.signature(MODEL_PARAMS[name].__init__).parameters
        real = inspect.signature(MODELS[name].__init__).parameters
        expect = {k: p.default for k, p in real.items() if k not in ("self", "input_shape", "n_outputs")}
        assert {k: p.default for k, p in declared.items() if k != "self"} == expect, name


def test_checking_a_config_does_not_import_torch():
    code = "import sys; from biodl.spec import load_config; load_config('config/config.yaml'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("bomb", ["aliases", "deep", "wide"])
def test_oversized_configs_are_refused_before_anything_walks_them(tmp_path, bomb):
    if bomb == "aliases":
        lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
        for i in range(1, 9):
            lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 10)}]")
        text = "\n".join(lines) + "\n"  # 10**9 leaves when expanded
    elif bomb == "deep":
        text = "a: " + "[" * 200 + "]" * 200 + "\n"
    else:
        text = "a: [" + ", ".join("1" for _ in range(200_000)) + "]\n"
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match="not a config biodl reads"):
        load_config(path)
    (tmp_path / "wf").mkdir()
    work = copy_workflow(tmp_path / "wf")
    (work / "config" / "config.yaml").write_text(text)
    proc = _snakemake(work, "-n", "--cores", "1", "--quiet", timeout=60)
    assert proc.returncode == 2 and "not a config biodl reads" in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("kind, data, key", [
    ("source", {"format": "csv", "path": "x.csv", "inputt": "smiles"}, "inputt"),
    ("source", {"path": "x.csv"}, "format"),
    ("featurizer", {"type": "ecfp", "radius": 99}, "radius"),
    ("split", {"method": "random", "fractions": [0.5, 0.5]}, "fractions"),
    ("experiment", {"dataset": "d", "featurizer": "f", "split": "s", "model": {"type": "mlp", "dropout": 2}},
     "model.dropout"),
])
def test_cli_blocks_are_checked_as_strictly_as_the_config(kind, data, key):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        parse_block(kind, data, f"--{kind}")


def test_cli_source_and_experiment_json_fail_with_one_line(tmp_path):
    code, _, err = run_cli("featurize", "--source", '{"format": "csv", "path": "x.csv", "smiles": "s"}',
                           "--featurizer", "ecfp", "-o", tmp_path / "o")
    assert code == 2 and "smiles" in err and err.strip().count("\n") == 0
    code, _, err = run_cli("featurize", ROOT / "data" / "molecules" / "freesolv.csv", "--featurizer", "ecfp",
                           "--param", "n_bits=-5", "-o", tmp_path / "o")
    assert code == 2 and "n_bits" in err and err.strip().count("\n") == 0
    code, _, err = run_cli("train", "--name", "x", "--experiment", json.dumps(
        {"dataset": "d", "featurizer": "f", "split": "s", "model": {"type": "mlp"}, "train": {"epochs": "ten"}}),
        "--features", tmp_path, "--split", tmp_path / "s.json", "-o", tmp_path / "m")
    assert code == 2 and "train.epochs" in err and err.strip().count("\n") == 0
    assert not (tmp_path / "m").exists()


PAYLOADS = ["$(touch PWNED)", "`touch PWNED`", "x; touch PWNED", "x' ; touch PWNED ; '", 'x" ; touch PWNED ; "',
            "with space"]


@pytest.mark.slow
def test_config_values_never_run_as_shell(tmp_path):
    """Each payload as the simulator's output folder and as a CSV path: the rules run, nothing else does."""
    config = yaml.safe_load((ROOT / "tests" / "configs" / "small.yaml").read_text())
    config["experiments"], config["screens"] = {}, {}
    config["simulate_cells"].update(counts=[1, 2], sites=1, blurs=[1], size=32)
    datasets = {"cells": config["datasets"]["cells"]}
    featurizers = {"image32": config["featurizers"]["image32"], "ecfp": config["featurizers"]["ecfp"]}
    (tmp_path / "wf").mkdir()
    work = copy_workflow(tmp_path / "wf")
    for i, payload in enumerate(PAYLOADS):
        folder = f"results/raw/{payload}"
        datasets["cells"]["source"]["path"] = folder
        csv = work / "data" / f"mol {i} {payload.replace('/', '_')}.csv"
        csv.write_text("smiles,y\nCCO,1.0\nc1ccccc1,2.0\n")
        datasets[f"mols{i}"] = {"source": {"format": "csv", "path": str(csv.relative_to(work)), "targets": ["y"]},
                                "featurizers": ["ecfp"]}
        run = {**config, "datasets": {"cells": datasets["cells"], f"mols{i}": datasets[f"mols{i}"]},
               "featurizers": featurizers, "simulate_cells": {**config["simulate_cells"], "out": folder}}
        (work / "config" / "config.yaml").write_text(yaml.safe_dump(run))
        proc = _snakemake(work, "--cores", "1", "features", timeout=300)
        assert proc.returncode == 0, (payload, proc.stderr[-3000:])
        assert (work / folder).is_dir(), payload
        assert (work / "results" / "features" / f"mols{i}" / "ecfp" / "manifest.json").is_file()
        assert not list(work.rglob("PWNED")), payload
