"""The ``biodl`` command line. Each subcommand is one pipeline stage; Snakemake rules call these.

A user mistake (missing file, column or key) prints one line and exits with code 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from biodl import __version__
from biodl.errors import UserError

FORMAT_BY_SUFFIX = {".csv": "csv", ".tsv": "csv", ".sdf": "sdf", ".fa": "fasta", ".fasta": "fasta",
                    ".fna": "fasta"}


def _json_or_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"--param expects key=value, got {pair!r}")
        params[key] = _json_or_value(value)
    return params


def _load_json_arg(text: str, what: str, kind: str | None = None) -> Any:
    """A JSON object given inline or as a path to a .json / .yaml file; with ``kind``, checked as
    strictly as the same block in a config (biodl.spec) and returned as the user wrote it."""
    from biodl.spec import parse_block, read_yaml

    if not text.lstrip().startswith("{") and Path(text).is_file():
        data = read_yaml(text, f"{what} spec")
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{what}: not valid JSON ({exc.msg}) and not a file") from None
    return parse_block(kind, data, what).dump() if kind else data


def _config(args):
    from biodl.spec import load_config

    return load_config(args.config)


def _checked(kind: str, data: Any, what: str) -> dict:
    from biodl.spec import parse_block

    return parse_block(kind, data, what).dump()


def _source_from_args(args) -> dict:
    if args.source:
        return _load_json_arg(args.source, "--source", "source")
    if args.config:
        config = _config(args)
        if args.dataset not in config.datasets:
            raise UserError(f"{args.config}: no dataset {args.dataset!r} (have: {', '.join(config.datasets)})")
        return config.datasets[args.dataset].source.dump()
    source = _source_from_files(args)
    return _checked("source", source, "input files")


def _source_from_files(args) -> dict:
    if not args.inputs:
        raise UserError("featurize: give input files, --source JSON, or --config with --dataset")
    first = Path(args.inputs[0])
    fmt = args.format or ("images" if first.is_dir() else FORMAT_BY_SUFFIX.get(first.suffix.lower()))
    if fmt is None:
        raise UserError(f"{first}: cannot tell the format from the extension; pass --format")
    targets = [t for t in (args.targets or "").split(",") if t]
    if fmt == "fasta":
        labels = args.label or []
        if labels and len(labels) != len(args.inputs):
            raise UserError(f"--label given {len(labels)} times for {len(args.inputs)} FASTA files")
        files = [{"path": p, **({"label": float(lab)} if labels else {})}
                 for p, lab in zip(args.inputs, labels or [None] * len(args.inputs))]
        return {"format": "fasta", "files": files, "target": targets[0] if targets else "label"}
    source = {"format": fmt, "path": args.inputs[0], "targets": targets}
    if args.input_col:
        source["input"] = args.input_col
    if args.id_col:
        source["id"] = args.id_col
    if fmt == "images" and args.labels:
        source["labels"] = args.labels
    return source


def _featurizer_from_args(args) -> dict:
    if args.config and not args.featurizer.lstrip().startswith("{"):
        spec = _config(args).featurizers.get(args.featurizer)
        if spec is not None:
            return _checked("featurizer", {**spec.dump(), **_parse_params(args.param)}, "--featurizer")
    spec = _load_json_arg(args.featurizer, "--featurizer") if args.featurizer.lstrip().startswith("{") \
        else {"type": args.featurizer}
    return _checked("featurizer", {**spec, **_parse_params(args.param)}, "--featurizer")


def cmd_featurize(args) -> int:
    from biodl.dataset import featurize_source

    source = _source_from_args(args)
    spec = _featurizer_from_args(args)
    ds = featurize_source(source, spec, args.out, n_jobs=args.n_jobs, name=args.dataset)
    counts = ds.manifest["counts"]
    print(f"{args.out}: {counts['in']} in, {counts['kept']} kept, {counts['rejected']} rejected"
          f" -> X {tuple(ds.X.shape)} {ds.X.dtype}", file=sys.stderr)
    for reason, n in sorted(counts["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        print(f"  rejected {n:>5}  {reason}", file=sys.stderr)
    return 0


def _experiment_from_args(args, parts: tuple[str, ...] | None = None) -> dict:
    """The experiment spec, checked. ``parts``: the keys a stage reads when the workflow passes
    only those (the baseline's rule passes task and baseline, so model changes do not rerun it)."""
    if args.experiment:
        data = _load_json_arg(args.experiment, "--experiment")
        if parts is not None and isinstance(data, dict) and set(data) <= set(parts):
            return _checked_parts(data, "--experiment")
        if isinstance(data, dict):
            # the command is given its features and split as paths: names are optional here
            missing = {k: "unnamed" for k in ("dataset", "featurizer", "split") if k not in data}
            checked = _checked("experiment", {**data, **missing}, "--experiment")
            return {k: v for k, v in checked.items() if k not in missing}
        return _checked("experiment", data, "--experiment")
    if args.config:
        config = _config(args)
        if args.name not in config.experiments:
            raise UserError(f"{args.config}: no experiment {args.name!r} "
                            f"(have: {', '.join(config.experiments) or 'none'})")
        return config.experiments[args.name].dump()
    raise UserError("give --experiment JSON, or --config with --name")


def _checked_parts(data: dict, what: str) -> dict:
    from biodl.spec import task_names

    out = dict(data)
    if "task" in out and out["task"] not in task_names():
        raise UserError(f"{what}: task: must be one of {', '.join(task_names())} (got {out['task']!r})")
    for key in ("baseline", "model", "train", "uncertainty"):
        if key in out:
            out[key] = _checked(key, out[key], f"{what}: {key}")
    return out


def _test_sets(pairs: list[str] | None, flag: str = "--test-set", value: str = "FEATURES_DIR") -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise UserError(f"{flag} expects NAME={value}, got {pair!r}")
        out[name] = path
    return out


def _logger(verbose: bool):
    return (lambda msg: print(msg, file=sys.stderr, flush=True)) if verbose else None


def cmd_split(args) -> int:
    from biodl.stages.split import split_dataset

    spec = _load_json_arg(args.spec, "--spec", "split")
    split = split_dataset(args.features, spec, args.out, seed=args.seed, dataset=args.dataset)
    audit = split["audit"]
    print(f"{args.out}: {split['method']} split, sizes {split['sizes']}, "
          f"{audit['duplicated_keys']} canonical inputs in more than one part", file=sys.stderr)
    if audit.get("reading"):
        print(f"  leakage audit: {audit['reading']}", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    from biodl.progress import TrainProgress
    from biodl.stages.train import train_experiment

    # progress lines go to stdout: the train rule sends stderr to the log, so Snakemake's console shows them
    progress = TrainProgress(args.progress_label or args.name, every=args.progress, log=_logger(args.verbose)) \
        if args.progress > 0 else None
    manifest = train_experiment(args.name, _experiment_from_args(args), args.features, args.split, args.out,
                                seed=args.seed, log=_logger(args.verbose), progress=progress)
    scores = {k: round(v, 4) for k, v in manifest.items() if k.startswith("valid_") and v is not None}
    print(f"{args.out}: {manifest['model_spec']['type']} trained, trial {manifest['selected_trial']} of "
          f"{manifest['n_trials']} selected, {scores}", file=sys.stderr)
    return 0


def cmd_predict(args) -> int:
    from biodl.stages import predict

    if args.features:
        if not args.split:
            raise UserError("predict --features also needs --split")
        predict.predict_experiment(args.name or Path(args.model).parent.name, args.model, args.features,
                                   args.split, args.out, test_sets=_test_sets(args.test_set))
        print(f"{args.out}: predictions written", file=sys.stderr)
        return 0
    if not args.inputs:
        raise UserError("predict: give raw input files, or --features with --split")
    args.config = None
    source = _source_from_args(args)
    frame = predict.predict_raw(args.model, source, args.out, n_jobs=args.n_jobs)
    rejected = frame["reject_reason"].ne("")
    print(f"{args.out}: {len(frame)} inputs, {int((~rejected).sum())} predicted, {int(rejected.sum())} rejected",
          file=sys.stderr)
    for reason, n in frame.loc[rejected, "reject_reason"].value_counts().items():
        print(f"  rejected {n:>5}  {reason}", file=sys.stderr)
    if "in_domain" in frame:
        outside = frame.loc[~rejected, "in_domain"].eq(False).sum()
        print(f"  {int(outside)} of {int((~rejected).sum())} predicted inputs outside the model's applicability "
              f"domain (columns in_domain, domain_reason)", file=sys.stderr)
    return 0


def cmd_interpret(args) -> int:
    from biodl.stages.interpret import interpret_experiment

    spec = _load_json_arg(args.interpret, "--interpret", "interpret") if args.interpret else {}
    summary = interpret_experiment(args.name or Path(args.model).parent.name, args.model, args.features, args.split,
                                   args.out, spec, test_sets=_test_sets(args.test_set), seed=args.seed)
    print(f"{args.out}: {summary['method']} on {summary['n_items']} items of {summary['part']} "
          f"({len(summary['figures'])} figures)", file=sys.stderr)
    for group in summary.get("groups", []):
        motif = group.get("motif")
        if motif:
            best = motif["matches"][0]
            print(f"  {group['name']}: motif best matches {best['matrix_id']} {best['name']} ({best['family']}), "
                  f"score {best['score']:.3f}, beyond {motif['percentile']:.1%} of shuffled motifs' best "
                  f"matches", file=sys.stderr)
    return 0


def cmd_screen(args) -> int:
    from biodl.stages.screen import screen_library

    summary = screen_library(args.model, args.library, args.out, smiles_col=args.smiles_col, id_col=args.id_col,
                             task=args.task, catalogs=None if args.filters is None else [c for c in args.filters.split(",") if c and c != "none"],
                             tautomer=args.tautomer, acquisition=args.acquisition, beta=args.beta,
                             greater=not args.smaller_is_better, top=args.top, picks=args.picks,
                             pick_method=args.pick_method, in_domain_only=args.in_domain_only,
                             chunk_size=args.chunk_size, seed=args.seed, progress=not args.quiet,
                             shard=_shard(args.shard), n_jobs=args.n_jobs)
    _print_screen(args.out, summary)
    if "hits" in summary:  # a shard has no picks yet: its page is the gathered screen's
        from biodl.report import write_screen_report

        write_screen_report(args.out)
    return 0


def _shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    index, sep, count = text.partition("/")
    if not (sep and index.isdigit() and count.isdigit() and int(count) >= 1):
        raise UserError(f"--shard expects I/N (shard I of N, I = 0..N-1), got {text!r}")
    return int(index), int(count)


def _print_screen(out, summary: dict) -> None:
    c = summary["counts"]
    hits = f", {summary['hits']} picks" if "hits" in summary else f" (shard {summary['shard'][0]} of {summary['shard'][1]})"
    rate = f"; {summary['records_per_s']} records/s" if summary.get("records_per_s") else ""
    print(f"{out}: {c['read']} records, {sum(c['rejected'].values())} rejected, {c['passed_filters']} passed the "
          f"alerts ({', '.join(f'{k} {v}' for k, v in c['flagged'].items())} flagged), {c['predicted']} "
          f"predicted{hits}{rate}", file=sys.stderr)
    for reason, n in sorted(c["rejected"].items(), key=lambda kv: -kv[1]):
        print(f"  rejected {n:>7}  {reason}", file=sys.stderr)


def cmd_screen_gather(args) -> int:
    from biodl.stages.screen import gather_screens

    from biodl.report import write_screen_report

    _print_screen(args.out, gather_screens(args.shards, args.out, picks=args.picks, pick_method=args.pick_method,
                                           seed=args.seed))
    if not args.no_report:
        write_screen_report(args.out)
    return 0


def cmd_screen_report(args) -> int:
    from biodl.report import write_screen_report

    print(write_screen_report(args.folder, args.out, name=args.name), file=sys.stderr)
    return 0


def cmd_baseline(args) -> int:
    from biodl.stages.baseline import baseline_experiment

    baseline_experiment(args.name, _experiment_from_args(args, ("task", "baseline")), args.features, args.split, args.out,
                        test_sets=_test_sets(args.test_set), seed=args.seed, n_jobs=args.n_jobs)
    print(f"{args.out}: baseline predictions written", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from biodl.stages.evaluate import evaluate_experiment

    result = evaluate_experiment(args.name, args.predictions, args.split, args.out, task_type=args.task,
                                 model_manifest=args.model_manifest, replicate=args.replicate,
                                 compare_counts=_test_sets(args.compare_counts, "--compare-counts", "PREDICTIONS"))
    for model, parts in result["models"].items():
        line = ", ".join(f"{part} {_headline(scores)}" for part, scores in parts.items())
        print(f"{args.name} replicate {args.replicate} {model}: {line}", file=sys.stderr)
    return 0


def cmd_summarize(args) -> int:
    from biodl.stages.evaluate import summarize_replicates

    result = summarize_replicates(args.metrics, args.out)
    for model, parts in result["models"].items():
        line = ", ".join(f"{part} {_headline(scores)}" for part, scores in parts.items())
        print(f"{result['experiment']} {model} (mean of {result['n_replicates']} replicates): {line}",
              file=sys.stderr)
    return 0


def _headline(scores: dict) -> str:
    for metric in ("rmse", "roc_auc", "accuracy", "object_f1"):
        value = scores["mean"].get(metric)
        if metric in scores["mean"]:
            return f"{metric} {value:.4f}" if value is not None else f"{metric} n/a"
    return "?"


def cmd_report(args) -> int:
    from biodl.report import write_experiment_report

    experiment = _load_json_arg(args.experiment, "--experiment", "experiment") if args.experiment else None
    out = write_experiment_report(args.name, args.metrics, args.predictions, args.out, model_dir=args.model_dir,
                                  split_path=args.split, features=args.features, experiment=experiment,
                                  compare_counts=_test_sets(args.compare_counts, "--compare-counts", "PREDICTIONS"),
                                  interpretation=args.interpretation)
    print(f"{out}: report written", file=sys.stderr)
    return 0


def cmd_leaderboard(args) -> int:
    from biodl.report import write_index

    out = write_index(args.metrics, args.out)
    print(f"{out}: {len(args.metrics)} experiments ranked", file=sys.stderr)
    return 0


def cmd_simulate_cells(args) -> int:
    from biodl.simulate import parse_size, simulate_cells

    try:
        size = parse_size(args.size)
    except ValueError as exc:
        raise UserError(f"--size: {exc}") from None
    kwargs = {"seed": args.seed, "size": size}
    if args.counts:
        lo, _, hi = args.counts.partition("-")
        kwargs["counts"] = range(int(lo), int(hi or lo) + 1)
    if args.sites:
        kwargs["sites"] = args.sites
    if args.blurs:
        kwargs["blurs"] = tuple(int(b) for b in args.blurs.split(","))
    files = simulate_cells(args.out, **kwargs)
    print(f"{args.out}: {len(files)} images", file=sys.stderr)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cmd_check(args) -> int:
    config = _config(args)
    print(f"{args.config}: ok — {len(config.datasets)} datasets, {len(config.featurizers)} featurizers, "
          f"{len(config.experiments)} experiments", file=sys.stderr)
    return 0


def cmd_init(args) -> int:
    from biodl.init import init_project, next_steps

    project = init_project(args.directory, args.data, smiles=args.smiles, id=args.id, targets=args.target,
                           labels=args.labels, name=args.name, force=args.force)
    print("\n".join(next_steps(project)))
    return 0


def cmd_status(args) -> int:
    from biodl.progress import format_status, project_status

    directory = Path(args.directory)
    if not directory.is_dir():
        raise UserError(f"no such project directory: {directory}")
    rows = project_status(directory)
    if not rows:
        print(f"{directory}: no training job has started (no logs under {directory / 'logs' / 'train'})")
        return 0
    print(format_status(rows), end="")
    return 0


def input_args(p: argparse.ArgumentParser) -> None:
    """Raw input files and how to read them (featurize and raw-mode predict)."""
    p.add_argument("inputs", nargs="*", help="CSV / SDF / FASTA file(s) or an image folder")
    p.add_argument("--format", choices=["csv", "sdf", "fasta", "images"])
    p.add_argument("--input-col", help="CSV column with SMILES or sequences (default: smiles)")
    p.add_argument("--id-col", help="CSV column with unique ids (default: row number)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="biodl", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"biodl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="check a config file (every key, value and name) without running anything",
                       description="Check config.yaml the way the workflow does at start: one line naming the "
                                   "first mistake's key path, exit code 2; exit 0 when it is fine.")
    p.add_argument("--config", default="config/config.yaml", help="config file (default: config/config.yaml)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("init", help="start a project: inspect your data, write DIR/config/config.yaml",
                       description="Look at your data (a CSV / TSV / SDF of molecules, FASTA files one per class, "
                                   "or an image folder) and write DIR/config/config.yaml, a commented config for "
                                   "it; then run the workflow with: snakemake --cores 2 --directory DIR")
    p.add_argument("directory", help="project directory (created; results and logs go under it)")
    p.add_argument("--data", nargs="+", required=True, metavar="PATH",
                   help="a CSV / TSV / SDF file, FASTA files (one per class, the first is class 1), or an image folder")
    p.add_argument("--smiles", help="table column with SMILES (default: found by parsing a sample with RDKit)")
    p.add_argument("--id", help="column with unique ids (default: a unique column named like an id, if any)")
    p.add_argument("--target", action="append",
                   help="target column (repeatable; default: every numeric column besides ids); FASTA: the task name")
    p.add_argument("--labels", help="images: a CSV with a column of image file names and numeric targets")
    p.add_argument("--name", help="dataset name (default: from the data file or folder)")
    p.add_argument("--force", action="store_true", help="overwrite an existing DIR/config/config.yaml")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("status", help="training progress of a project, one line per training job",
                       description="Read DIR/logs/train/**/*.log and print one line per training job: experiment, "
                                   "replicate, fit k/K, epoch, best validation score, state and time left.")
    p.add_argument("directory", nargs="?", default=".", help="project directory (default: .)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("featurize", help="raw inputs -> featurized dataset directory",
                       description="Featurize raw inputs into X.npy / y.npy / meta.parquet / rejects.csv / "
                                   "manifest.json. Inputs by file (format from the extension), by --source "
                                   "JSON, or by --config + --dataset.")
    input_args(p)
    p.add_argument("--targets", help="comma-separated target columns (FASTA: the task name)")
    p.add_argument("--label", action="append", help="FASTA: a label per input file, in order")
    p.add_argument("--labels", help="images: 'bbbc005' or a labels CSV")
    p.add_argument("--source", help="source spec as JSON (or a JSON / YAML file)")
    p.add_argument("--config", help="config.yaml; with --dataset, takes the source from it")
    p.add_argument("--dataset", help="dataset name in --config (also recorded in the manifest)")
    p.add_argument("--featurizer", required=True,
                   help="featurizer type (ecfp, rdkit_descriptors, smiles_tokens, molgraph, onehot, kmer, image), "
                        "a named featurizer in --config, or a JSON spec")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="featurizer parameter (JSON value)")
    p.add_argument("--n-jobs", type=int, default=1, help="worker processes (-1: all cores)")
    p.add_argument("-o", "--out", required=True, help="output dataset directory")
    p.set_defaults(func=cmd_featurize)

    p = sub.add_parser("split", help="featurized dataset -> split JSON (train / valid / test + leakage audit)")
    p.add_argument("--features", required=True, help="featurized dataset directory")
    p.add_argument("--spec", required=True,
                   help='split spec as JSON, e.g. \'{"method": "scaffold", "fractions": [0.8, 0.1, 0.1]}\'')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", help="dataset name recorded in the split")
    p.add_argument("-o", "--out", required=True, help="output split JSON")
    p.set_defaults(func=cmd_split)

    def experiment_args(p):
        p.add_argument("--name", required=True, help="experiment name (also seeds its random steps)")
        p.add_argument("--experiment", help="experiment spec as JSON (or a JSON / YAML file)")
        p.add_argument("--config", help="config.yaml: take the experiment spec named --name from it")
        p.add_argument("--features", required=True, help="featurized dataset directory")
        p.add_argument("--split", required=True, help="split JSON")
        p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("train", help="train (with hyperparameter search on valid) -> model directory")
    experiment_args(p)
    p.add_argument("--threads", type=_positive_int, help="CPU threads for torch (default: torch's own choice)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    p.add_argument("--progress", type=float, default=20.0, metavar="SECONDS",
                   help="print a progress line on stdout at most every SECONDS (plus the first epoch and the "
                        "end of each fit; default 20; 0: none)")
    p.add_argument("--progress-label", help="name at the start of progress lines (default: --name)")
    p.add_argument("-o", "--out", required=True, help="output model directory")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("baseline", help="train the experiment's non-deep baseline -> predictions parquet")
    experiment_args(p)
    p.add_argument("--test-set", action="append", metavar="NAME=FEATURES_DIR", help="extra test set")
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("-o", "--out", required=True)
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser("interpret", help="attributions of a trained model on one part -> directory of arrays, "
                                         "table, figures",
                       description="DNA: ISM / gradient x input / integrated gradients, motifs compared with JASPAR, "
                                   "greedy evolution; molecules: ECFP bit occlusion or graph integrated gradients "
                                   "mapped to atoms; images: occlusion or saliency maps.")
    p.add_argument("--name", help="experiment name (default: the model's folder)")
    p.add_argument("--model", required=True, help="model.pt written by biodl train")
    p.add_argument("--features", required=True, help="featurized dataset directory the model was trained on")
    p.add_argument("--split", required=True, help="split JSON")
    p.add_argument("--test-set", action="append", metavar="NAME=FEATURES_DIR",
                   help="a shipped test set, to explain with --interpret '{\"part\": NAME}'")
    p.add_argument("--interpret", help="the interpret block as JSON or a YAML / JSON file (default: {})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=_positive_int, help="CPU threads for torch (default: torch's own choice)")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.set_defaults(func=cmd_interpret)

    def pick_args(p):  # screen and screen-gather pick the same way
        p.add_argument("--picks", type=int, default=100, help="diverse picks among the candidates (default 100)")
        p.add_argument("--pick-method", default="maxmin", choices=["maxmin", "butina"])
        p.add_argument("--seed", type=int, default=0, help="the MaxMin picker's seed")

    p = sub.add_parser("screen", help="screen a molecule library: standardize, alerts, predict, rank, diverse picks",
                       description="Reads the library in chunks (CSV / TSV / SMILES / SDF, gzip too); writes "
                                   "screened.csv (every record, rejects with their reason), hits.csv and "
                                   "summary.json to the output directory.")
    p.add_argument("--model", required=True, help="model.pt of a molecule model")
    p.add_argument("--library", required=True, help="library file")
    p.add_argument("--smiles-col", help="CSV: the SMILES column (default: smiles / canonical_smiles / smi)")
    p.add_argument("--id-col", help="CSV: the id column (SDF: a property; default: the record number / title)")
    p.add_argument("--task", help="the target ranked (default: the model's first)")
    p.add_argument("--filters", help="alert catalogs, comma-separated (default pains,brenk,inpharmatica; also "
                                     "pains_a/b/c, nih, zinc, glaxo, dundee, bms, mlsmr, lint, surechembl), or none")
    p.add_argument("--tautomer", action="store_true", help="standardize to RDKit's canonical tautomer (slow)")
    p.add_argument("--acquisition", default="score", choices=["score", "ucb"], help="rank by the prediction or "
                   "mean + beta sigma")
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--smaller-is-better", action="store_true", help="rank low predictions first")
    p.add_argument("--top", type=_positive_int, default=1000, help="candidates kept by score (default 1000)")
    pick_args(p)
    p.add_argument("--in-domain-only", action="store_true", help="candidates must be in the applicability domain")
    p.add_argument("--chunk-size", type=_positive_int, default=10_000)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--shard", metavar="I/N", help="screen only chunks I, I+N, I+2N, ... (join with screen-gather)")
    p.add_argument("--n-jobs", type=_positive_int, default=1, help="worker processes, one chunk each at a time "
                   "(default 1; the output does not depend on it)")
    p.add_argument("--threads", type=_positive_int, help="CPU threads for torch (default: torch's own choice)")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser("screen-gather", help="join the shard folders of biodl screen --shard I/N into one screen")
    p.add_argument("shards", nargs="+", help="the N shard folders")
    pick_args(p)
    p.add_argument("--no-report", action="store_true", help="no report.html in the output folder")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.set_defaults(func=cmd_screen_gather)

    p = sub.add_parser("screen-report", help="the HTML page of a finished screen folder",
                       description="Counts, pass rates per alert catalog, rejects by reason, score and sigma "
                                   "distributions, the picks drawn. biodl screen and screen-gather write it as "
                                   "report.html in their folder; this writes it anywhere.")
    p.add_argument("folder", help="a screen folder (biodl screen, or screen-gather for shards)")
    p.add_argument("-o", "--out", help="the page (default: FOLDER/report.html)")
    p.add_argument("--name", help="the screen's name in the page's title (default: the folder's name)")
    p.set_defaults(func=cmd_screen_report)

    p = sub.add_parser("predict", help="predict with a saved model, from raw inputs or featurized splits",
                       description="Raw mode: biodl predict --model model.pt data.csv -o out.csv (featurized "
                                   "with the model's own featurizer; rejects keep their row with a reason). "
                                   "Workflow mode: --features DIR --split FILE [--test-set NAME=DIR].")
    input_args(p)
    p.add_argument("--model", required=True, help="model.pt written by biodl train")
    p.add_argument("--targets", help=argparse.SUPPRESS)
    p.add_argument("--label", action="append", help=argparse.SUPPRESS)
    p.add_argument("--labels", help="images: 'bbbc005' or a labels CSV")
    p.add_argument("--source", help="source spec as JSON")
    p.add_argument("--features", help="workflow mode: featurized dataset directory")
    p.add_argument("--split", help="workflow mode: split JSON")
    p.add_argument("--test-set", action="append", metavar="NAME=FEATURES_DIR", help="workflow mode: extra test set")
    p.add_argument("--name", help="experiment name (workflow mode)")
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--threads", type=_positive_int, help="CPU threads for torch (default: torch's own choice)")
    p.add_argument("-o", "--out", required=True, help="output CSV (raw mode) or parquet (workflow mode)")
    p.set_defaults(func=cmd_predict, dataset=None)

    p = sub.add_parser("evaluate", help="predictions -> metrics JSON (deep model and baseline side by side)")
    p.add_argument("--name", required=True)
    p.add_argument("--predictions", nargs="+", required=True, help="prediction parquet files")
    p.add_argument("--split", required=True)
    p.add_argument("--task", help="task type (regression, binary, multiclass; default: inferred)")
    p.add_argument("--model-manifest", help="the model directory's manifest.json (records the selection)")
    p.add_argument("--replicate", type=int, default=0, help="replicate index, recorded in the metrics (default 0)")
    p.add_argument("--compare-counts", action="append", metavar="NAME=PREDICTIONS",
                   help="segmentation: another experiment's prediction parquet whose counts are scored beside")
    p.add_argument("-o", "--out", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("summarize", help="replicate metrics JSONs -> one summary (mean ± sd, intervals, verdicts)")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics JSON of each replicate, replicate 0 first")
    p.add_argument("-o", "--out", required=True)
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("report", help="one experiment -> self-contained HTML report",
                       description="Render an experiment's report (scores beside the baseline, data and split "
                                   "summary, learning curve, parity / ROC, calibration, most uncertain items).")
    p.add_argument("--name", required=True)
    p.add_argument("--metrics", required=True, help="metrics JSON written by biodl evaluate")
    p.add_argument("--predictions", nargs="+", required=True, help="prediction parquet files (model, baseline)")
    p.add_argument("--model-dir", help="the model directory (manifest.json, history.csv, search.csv)")
    p.add_argument("--split", help="split JSON")
    p.add_argument("--features", help="featurized dataset directory (data summary, inputs, thumbnails)")
    p.add_argument("--experiment", help="the experiment spec as JSON (shown in the report)")
    p.add_argument("--compare-counts", action="append", metavar="NAME=PREDICTIONS",
                   help="segmentation: another experiment's prediction parquet drawn in the count parity plot")
    p.add_argument("--interpretation", help="the folder biodl interpret wrote (an interpretation section)")
    p.add_argument("-o", "--out", required=True, help="output .html")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("leaderboard", help="metrics JSONs -> index.html ranking every experiment")
    p.add_argument("--metrics", nargs="+", required=True)
    p.add_argument("-o", "--out", required=True)
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("simulate-cells", help="write BBBC005-style simulated cell images")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", default="128",
                   help="image size in pixels: one side (128, square) or WIDTHxHEIGHT (696x520, as BBBC005's)")
    p.add_argument("--counts", help="cell count range, e.g. 1-30")
    p.add_argument("--sites", type=int, help="sites (independent scenes) per count")
    p.add_argument("--blurs", help="comma-separated focus-blur levels, e.g. 1,10,23,48")
    p.set_defaults(func=cmd_simulate_cells)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "threads", None):
            from biodl.device import limit_threads

            limit_threads(args.threads)
        return args.func(args)
    except UserError as exc:
        print(f"biodl {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
