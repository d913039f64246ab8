import json
import shlex


def all_feature_sets():
    """Every configured dataset x featurizer, as its manifest path."""
    return [
        f"results/features/{dataset}/{featurizer}/manifest.json"
        for dataset, spec in config["datasets"].items()
        for featurizer in spec["featurizers"]
    ]


def source_inputs(wildcards):
    """The raw files a dataset reads (a simulated image folder is the output of simulate_cells)."""
    source = config["datasets"][wildcards.dataset]["source"]
    if source["format"] == "fasta":
        return [entry["path"] for entry in source["files"]]
    paths = [source["path"]]
    if source["format"] == "images" and source.get("labels") not in (None, "bbbc005"):
        paths.append(source["labels"])
    return paths


def quoted_json(value):
    return shlex.quote(json.dumps(value, sort_keys=True))
