import json
from pathlib import Path


# -1 in the config means every core Snakemake was given
N_JOBS = SPEC.n_jobs if SPEC.n_jobs > 0 else workflow.cores


def as_json(value):
    """A spec block as one JSON argument; the shell line quotes it with {params.x:q}."""
    return json.dumps(value, sort_keys=True)


def all_feature_sets():
    """Every configured dataset x featurizer, as its manifest path."""
    return [
        f"results/features/{dataset}/{featurizer}/manifest.json"
        for dataset, spec in SPEC.datasets.items()
        for featurizer in spec.featurizers
    ]


def source_inputs(wildcards):
    """The raw files a dataset reads (a simulated image folder is the output of simulate_cells)."""
    source = SPEC.datasets[wildcards.dataset].source
    if source.format == "fasta":
        return [entry.path for entry in source.files] or [source.path]
    if source.format == "bed":  # the genome's .fai is written beside it when absent: not an input
        return ([entry.path for entry in source.files] or [source.path]) + [source.genome]
    paths = [source.path]
    if source.format == "images" and source.labels not in (None, "bbbc005"):
        paths.append(source.labels)
    # a mask folder inside the image folder (the simulator's ground_truth/) comes with it
    if source.format == "images" and source.masks and not Path(source.masks).is_relative_to(source.path):
        paths.append(source.masks)
    return paths


wildcard_constraints:
    dataset="[A-Za-z0-9][A-Za-z0-9_-]*",
    screen="[A-Za-z0-9][A-Za-z0-9_-]*",
    shard="[0-9]+",
    featurizer="[A-Za-z0-9][A-Za-z0-9_-]*",
    experiment="[A-Za-z0-9][A-Za-z0-9_-]*",
    split="[A-Za-z0-9][A-Za-z0-9_-]*",
    rep="[0-9]+",


def features_dir(dataset, featurizer):
    return f"results/features/{dataset}/{featurizer}"


def experiment(wildcards):
    return SPEC.experiments[wildcards.experiment]


def reference_featurizer(dataset):
    """Splits are computed on the dataset's first featurizer (its meta has the group keys)."""
    return SPEC.datasets[dataset].featurizers[0]


def replicate_seed(wildcards):
    """Replicate r splits and trains with seed + r: replicate 0 is the single run of seed."""
    return SPEC.seed + int(wildcards.rep)


def split_file(exp, rep):
    """Experiments on one dataset and split share their replicate splits."""
    return f"results/splits/{exp.dataset}/{exp.split}/rep{rep}.json"


def replicate_metrics(exp_name):
    exp = SPEC.experiments[exp_name]
    return [f"results/metrics/{exp_name}/rep{r}.json" for r in range(exp.replicates)]


def test_set_args(exp, featurizer):
    """--test-set NAME=DIR pairs as a list: Snakemake quotes each item of a list on its own."""
    return [f"--test-set={name}={features_dir(name, featurizer)}" for name in exp.test_sets]


def test_set_manifests(exp, featurizer):
    return [f"{features_dir(name, featurizer)}/manifest.json" for name in exp.test_sets]


def all_metrics():
    return [f"results/metrics/{name}.json" for name in SPEC.experiments]


def baseline_featurizer(exp):
    return exp.baseline.featurizer or exp.featurizer


def evaluation_inputs(wc, rep=None):
    """The deep model's and the baseline's prediction tables of one replicate (default: the job's)."""
    rep = wc.rep if rep is None else rep
    inputs = [f"results/predictions/{wc.experiment}/rep{rep}.parquet"]
    if experiment(wc).baseline is not None:
        inputs.append(f"results/predictions/{wc.experiment}/rep{rep}.baseline.parquet")
    return inputs


def all_reports():
    """A report per experiment and the leaderboard (none without experiments)."""
    names = list(SPEC.experiments)
    return [f"results/reports/{name}.html" for name in names] + (["results/reports/index.html"] if names else [])


def count_comparison_inputs(wc, rep=None):
    """Segmentation: the prediction tables of the experiments whose counts are compared (same replicate)."""
    rep = wc.rep if rep is None else rep
    return [f"results/predictions/{name}/rep{rep}.parquet" for name in experiment(wc).compare_counts]


def count_comparison_args(wc, rep=None):
    """--compare-counts NAME=PATH pairs as a list (each item quoted on its own)."""
    rep = wc.rep if rep is None else rep
    return [f"--compare-counts={name}=results/predictions/{name}/rep{rep}.parquet"
            for name in experiment(wc).compare_counts]


def interpretation_inputs(wc):
    """The experiment's attributions folder when its config asks for them (the report shows them)."""
    return [f"results/interpret/{wc.experiment}"] if experiment(wc).interpret is not None else []


def interpretation_args(wc):
    return [f"--interpretation=results/interpret/{wc.experiment}"] if experiment(wc).interpret is not None else []


def all_screens():
    """The gathered folder and the page of every configured screen."""
    return [path for name in SPEC.screens
            for path in (f"results/screens/{name}/gathered", f"results/reports/screens/{name}.html")]


def screen_options(screen):
    """biodl screen's flags for a screen block, one list item each (Snakemake quotes each)."""
    options = [f"--chunk-size={screen.chunk_size}", f"--top={screen.top}", f"--picks={screen.picks}",
               f"--pick-method={screen.pick_method}", f"--acquisition={screen.acquisition}",
               f"--filters={','.join(screen.filters) or 'none'}", f"--seed={SPEC.seed}"]
    if screen.acquisition == "ucb":
        options.append(f"--beta={screen.beta}")
    for flag, value in (("--smiles-col", screen.smiles_col), ("--id-col", screen.id_col), ("--task", screen.task)):
        if value is not None:
            options.append(f"{flag}={value}")
    for flag, on in (("--tautomer", screen.tautomer), ("--smaller-is-better", not screen.greater),
                     ("--in-domain-only", screen.in_domain_only)):
        if on:
            options.append(flag)
    return options
