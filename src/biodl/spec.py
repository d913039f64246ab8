"""The whole workflow config as one typed spec, parsed and checked once before any job runs.

Why pydantic v2 (not dataclasses + jsonschema): the spec is *generated* from the registered classes
— each featurizer, split method, model, baseline and the train / uncertainty settings declare their
parameters in a constructor signature (names, types, defaults) plus ``param_constraints`` (ranges,
choices) — and pydantic turns exactly that into a validator *and* a JSON schema, so the check, the
schema Snakemake validates (``workflow/schemas/config.schema.yaml``, written by
``python -m biodl.spec``) and the code cannot drift apart. Strict mode: ``epochs: "ten"`` or
``epochs: true`` is an error, never coerced.

A mistake is one line naming the key path and what is allowed::

    config/config.yaml: experiments.fs_mlp.model.dropout: must be < 1 (got 1.5)

Checked beyond each block's own keys: names (datasets, featurizers, splits, experiments) match
:data:`NAME_PATTERN` because they become file names; every dataset / featurizer / split / test set
an experiment names exists and fits (featurizer modality vs. source format, model vs. feature
layout, baseline vs. task, test sets featurized the same way); each value of a search space is a
valid value of the parameter it overrides; and a config larger or deeper than any sane one (YAML
alias bombs) is refused before anything walks it.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import annotated_types
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from biodl.errors import UserError
from biodl.registry import Choices, Length

#: names become directory and file names, and Snakemake wildcards
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
#: no NUL or line breaks: a path travels through argv and logs
PathStr = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"^[^\x00\n\r]*$")]
Text = Annotated[str, StringConstraints(max_length=10_000)]

#: far above any real config (the default one has ~400 nodes), far below what hangs a parser
MAX_NODES = 100_000
MAX_DEPTH = 40
MAX_CONFIG_BYTES = 4 << 20

SOURCE_MODALITIES = {"csv": ("molecule", "sequence"), "sdf": ("molecule",), "fasta": ("sequence",),
                     "bed": ("sequence",), "images": ("image",)}
Bounds = annotated_types.Interval


def task_names() -> list[str]:
    from biodl.tasks import TASKS

    return TASKS.names()


def task_class(name: str) -> Any:
    from biodl.tasks import task_class as lookup

    return lookup(name)


class Spec(BaseModel):
    """Base of every block: strict types, no NaN / inf, unknown keys named with a suggestion."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True,
                              protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for key in data:
                if key not in allowed:
                    close = difflib.get_close_matches(str(key), allowed, n=1)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    raise PydanticCustomError("unknown_key", "unknown key ({hint}allowed: {allowed})",
                                              {"key": str(key), "hint": hint, "allowed": ", ".join(allowed)})
        return data

    def dump(self) -> dict[str, Any]:
        """The block as the user wrote it (validated; defaults the user left out stay out)."""
        return self.model_dump(mode="json", exclude_unset=True)


# -- blocks generated from registered classes ------------------------------------------------------
def _constrained(annotation: Any, constraint: Any) -> Any:
    """Apply a registered constraint to an annotation: ranges go onto the numbers (of a list, too),
    lengths onto the list, choices replace the type by a Literal (keeping ``None`` where the
    parameter allows it); a tuple applies each of its constraints."""
    if constraint is None:
        return annotation
    if isinstance(constraint, tuple):
        for each in constraint:
            annotation = _constrained(annotation, each)
        return annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(constraint, Length):
        if args and origin is not None and origin not in (list, Sequence, typing.Sequence):
            return Union[tuple(_constrained(a, constraint) if a is not type(None) else a for a in args)]
        return Annotated[annotation, annotated_types.Len(constraint.low or 0, constraint.high)]
    if isinstance(constraint, Choices):
        optional = origin in (Union, types.UnionType) and type(None) in args
        choice = Literal[constraint.values]  # type: ignore[valid-type]
        return Optional[choice] if optional else choice
    if annotation in (int, float):
        return Annotated[annotation, annotated_types.Interval(**constraint.bounds())]
    if annotation is YamlFloat:
        return _float(constraint.bounds())
    if origin in (list, Sequence, tuple, typing.Sequence) and args:
        return list[_constrained(args[0], constraint)]
    if args and origin is not None:  # a union such as int | None
        return Union[tuple(_constrained(a, constraint) if a is not type(None) else a for a in args)]
    return annotation


_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _yaml_float(value: Any) -> Any:
    """PyYAML follows YAML 1.1, where ``1e-5`` (no dot) is a string: read it as the number meant."""
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        return float(value)
    return value


def _float(bounds: Mapping[str, float] | None = None) -> Any:
    """A float (with its range) that also takes ``1e-5`` written without a dot; the JSON schema
    says both, so Snakemake's check of the same config agrees."""
    number = Annotated[float, annotated_types.Interval(**bounds)] if bounds else float
    text = Annotated[str, StringConstraints(pattern=_SCIENTIFIC.pattern)]
    return Annotated[number, BeforeValidator(_yaml_float, json_schema_input_type=Union[number, text])]


YamlFloat = _float()


def _plain(annotation: Any) -> Any:
    """YAML gives lists, never tuples: a tuple-typed parameter takes a list; floats accept 1e-5."""
    if annotation is float:
        return YamlFloat
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is tuple or origin is tuple:
        args = [a for a in args if a is not Ellipsis]
        return list[_plain(args[0])] if args else list
    if origin in (list, Sequence, typing.Sequence) and args:
        return list[_plain(args[0])]
    if args and origin in (Union, types.UnionType):
        return Union[tuple(_plain(a) for a in args)]
    return annotation


def _hints(cls: type) -> dict[str, Any]:
    """Type hints of ``cls.__init__``'s parameters, falling back to a base class's annotation of the
    same parameter where a subclass repeats it without one (splitters' ``fractions``)."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is not None and klass is not object:
            hints.update(typing.get_type_hints(init))
    return hints


def _parameters(cls: type, skip: Sequence[str]) -> dict[str, tuple[Any, Any]]:
    """(annotation, default) of each parameter of a registered class, with its constraints applied."""
    constraints = getattr(cls, "param_constraints", {}) or {}
    out: dict[str, tuple[Any, Any]] = {}
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in skip:
                continue
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else ...)
            out[f.name] = (_constrained(_plain(hints.get(f.name, Any)), constraints.get(f.name)), default)
        return out
    hints = _hints(cls)
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in skip or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        default = ... if p.default is p.empty else p.default
        default = list(default) if isinstance(default, tuple) else default  # YAML and JSON have lists
        out[name] = (_constrained(_plain(hints.get(name, Any)), constraints.get(name)), default)
    return out


def _block(cls: type, kind: str, *, tag_key: str | None, tag: str | None, skip: Sequence[str] = (),
           extra: Mapping[str, tuple[Any, Any]] | None = None) -> type[Spec]:
    from pydantic import create_model

    fields: dict[str, Any] = {}
    if tag_key:
        fields[tag_key] = (Literal[tag], ...)  # type: ignore[valid-type]
    fields.update(_parameters(cls, skip))
    fields.update(extra or {})
    title = f"{kind}_{tag}" if tag else kind
    model = create_model(re.sub(r"\W", "_", title), __base__=Spec, __doc__=(cls.__doc__ or "").strip() or None,
                         **fields)
    return model


def _tagged_union(kind: str, blocks: Mapping[str, type[Spec]], key: str) -> Any:
    """One of ``blocks`` chosen by the value of ``key``; an unknown or missing value is one error
    listing the allowed values (the Tag strings are ``key=value`` so error paths can drop them)."""
    names = sorted(blocks)

    def pick(value: Any) -> str | None:
        tag = value.get(key) if isinstance(value, dict) else getattr(value, key, None)
        return f"{key}={tag}" if isinstance(tag, str) and tag in blocks else None

    members = tuple(Annotated[blocks[n], Tag(f"{key}={n}")] for n in names)
    return Annotated[Union[members], Discriminator(  # type: ignore[valid-type]
        pick, custom_error_type="unknown_tag", custom_error_message=f"unknown {kind} {key}",
        custom_error_context={"key": key, "allowed": ", ".join(names)})]


@cache
def _registry_blocks() -> dict[str, Any]:
    """Import the registries (light modules: numpy, no torch) and build one block per entry."""
    from biodl.baselines import BASELINES
    from biodl.featurizers import FEATURIZERS
    from biodl.model_params import MODEL_PARAMS
    from biodl.splits import SPLITTERS
    from biodl.train import TrainConfig
    from biodl.uncertainty import UncertaintySpec

    featurizers = {n: _block(c, "featurizer", tag_key="type", tag=n, skip=("n_jobs",)) for n, c in FEATURIZERS.items()}
    splits = {n: _block(c, "split", tag_key="method", tag=n,
                        extra={"dedupe": (bool, False)}) for n, c in SPLITTERS.items()}
    models = {n: _block(c, "model", tag_key="type", tag=n) for n, c in MODEL_PARAMS.items()}
    baselines = {n: _block(c, "baseline", tag_key="type", tag=n, skip=("task_type", "seed", "n_jobs"),
                           extra={"featurizer": (Optional[Name], None)}) for n, c in BASELINES.items()}
    return {
        "featurizer": featurizers, "split": splits, "model": models, "baseline": baselines,
        "train": _block(TrainConfig, "train", tag_key=None, tag=None, skip=("seed",)),
        "uncertainty": _block(UncertaintySpec, "uncertainty", tag_key=None, tag=None),
        "classes": {"featurizer": dict(FEATURIZERS.items()), "model": dict(MODEL_PARAMS.items()),
                    "baseline": dict(BASELINES.items())},
    }


# -- sources (one block per raw format) -------------------------------------------------------------
class CsvSource(Spec):
    """A CSV / TSV table: one row per record."""

    format: Literal["csv"]
    path: PathStr
    input: str = Field("smiles", description="column with SMILES or sequences")
    id: str | None = Field(None, description="column with unique ids (default: file stem + row number)")
    targets: list[str] = Field(default_factory=list, description="target columns (blank cells: missing labels)")
    meta: list[str] = Field(default_factory=list, description="extra columns copied into meta.parquet")
    sep: Annotated[str, StringConstraints(min_length=1, max_length=1)] | None = None


class SdfSource(Spec):
    """An SDF file: molecules with properties."""

    format: Literal["sdf"]
    path: PathStr
    id: str | None = Field(None, description="property with unique ids")
    targets: list[str] = Field(default_factory=list, description="properties holding targets")


class FastaFile(Spec):
    path: PathStr
    label: YamlFloat | None = None


class FastaSource(Spec):
    """FASTA files (plain or gzip): one label per file, labels from header fields, or none."""

    format: Literal["fasta"]
    path: PathStr | None = None
    files: list[FastaFile] = Field(default_factory=list)
    target: str | None = Field(None, description="task name of the per-file labels")
    header_targets: list[str] = Field(default_factory=list,
                                      description="targets read from name=value fields of each header")

    @model_validator(mode="after")
    def _files(self) -> FastaSource:
        if not self.files and not self.path:
            raise PydanticCustomError("fasta_files", "give 'files' (a list of {{path, label}}) or 'path'")
        labelled = [f for f in self.files if f.label is not None]
        if labelled and len(labelled) != len(self.files):
            raise PydanticCustomError("fasta_labels", "give a label for every file or for none")
        if labelled and not self.target:
            raise PydanticCustomError("fasta_target", "labelled files need a 'target' name")
        if labelled and self.header_targets:
            raise PydanticCustomError("fasta_header", "labels come from the files or from the headers "
                                                      "(header_targets), not both")
        if len(set(self.header_targets)) != len(self.header_targets):
            raise PydanticCustomError("fasta_header", "header_targets names a field twice")
        return self


class BedSource(Spec):
    """BED intervals cut as windows from a reference genome FASTA (its .fai is built if absent)."""

    format: Literal["bed"]
    path: PathStr | None = None
    files: list[FastaFile] = Field(default_factory=list)
    genome: PathStr = Field(..., description="reference genome FASTA, uncompressed")
    length: Annotated[int, Bounds(ge=1, le=1_000_000)] = Field(..., description="window length, bp")
    target: str | None = Field(None, description="task name of the labels")
    score_column: Annotated[int, Bounds(ge=4, le=1000)] | None = Field(
        None, description="1-based BED column holding a numeric label (5: the score)")

    @model_validator(mode="after")
    def _files(self) -> BedSource:
        if not self.files and not self.path:
            raise PydanticCustomError("bed_files", "give 'files' (a list of {{path, label}}) or 'path'")
        labelled = [f for f in self.files if f.label is not None]
        if labelled and len(labelled) != len(self.files):
            raise PydanticCustomError("bed_labels", "give a label for every file or for none")
        if (labelled or self.score_column) and not self.target:
            raise PydanticCustomError("bed_target", "labels need a 'target' name")
        if labelled and self.score_column:
            raise PydanticCustomError("bed_labels", "labels come from the files or from score_column, not both")
        return self


class ImagesSource(Spec):
    """A folder of images; labels from BBBC005 file names or a labels CSV."""

    format: Literal["images"]
    path: PathStr
    labels: PathStr | None = Field(None, description="'bbbc005' or a labels CSV path")
    targets: list[str] = Field(default_factory=list)
    id: str | None = Field(None, description="labels CSV column with the file names (default: file)")
    masks: PathStr | None = Field(None, description="folder of instance masks (0 = background, 1..n = cells): "
                                                    "the image's name, or its BBBC005 scene's F1 name")


SOURCE_BLOCKS = {"csv": CsvSource, "sdf": SdfSource, "fasta": FastaSource, "bed": BedSource,
                 "images": ImagesSource}
SourceSpec = _tagged_union("source", SOURCE_BLOCKS, "format")


# -- the config ------------------------------------------------------------------------------------
def _block_type(kind: str) -> Any:
    blocks = _registry_blocks()[kind]
    key = "method" if kind == "split" else "type"
    return _tagged_union(kind, blocks, key)


def _finite_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) < float("inf"):  # NaN too
        raise PydanticCustomError("finite_number", "must be a finite number")
    return value


RangeEnd = Annotated[Union[int, float], BeforeValidator(_finite_number)]


class SearchRange(Spec):
    """A range to sample (random, optuna): integers when both ends are integers, else floats."""

    low: RangeEnd
    high: RangeEnd
    log: bool = Field(False, description="sample log-uniformly (needs low > 0)")

    @model_validator(mode="after")
    def _bounds(self) -> SearchRange:
        if not self.low < self.high:
            raise PydanticCustomError("range", "low must be < high")
        if self.log and self.low <= 0:
            raise PydanticCustomError("range", "log: true needs low > 0")
        return self


def _search_value_kind(value: Any) -> str | None:
    return "kind=list" if isinstance(value, list) else "kind=range" if isinstance(value, (dict, SearchRange)) else None


SearchValues = Annotated[Union[Annotated[Annotated[list[Any], annotated_types.Len(1, 1000)], Tag("kind=list")],
                               Annotated[SearchRange, Tag("kind=range")]],
                         Discriminator(_search_value_kind, custom_error_type="search_value",
                                       custom_error_message="must be a list of values or a range (low, high, log)")]


class SearchSpec(Spec):
    """Hyperparameter search on the validation split (biodl.search); optuna's trial 0 is the config as written."""

    method: Literal["grid", "random", "optuna"] = "grid"
    n_trials: Annotated[int, Bounds(ge=1, le=10_000)] = 10
    space: dict[Annotated[str, StringConstraints(pattern=r"^(model|train)\.[A-Za-z_][A-Za-z0-9_]*$")],
                SearchValues] = Field(default_factory=dict)
    pruner: Literal["median", "none"] = Field("median", description="optuna only")
    warmup_epochs: Optional[Annotated[int, Bounds(ge=0, le=100_000)]] = Field(
        None, description="optuna only: epochs before a trial can be pruned (default: train.patience)")
    startup_trials: Annotated[int, Bounds(ge=0, le=10_000)] = Field(
        5, description="optuna only: completed trials before pruning starts")


#: what ``interpret`` can do per featurizer type (the first is the default); the models that read
#: ``onehot`` codes (cnn1d, rnn) also take the float one-hot, which the gradient methods need
INTERPRET_METHODS = {
    "onehot": ("ism", "gradient_x_input", "integrated_gradients"),
    "ecfp": ("occlusion",),
    "molgraph": ("integrated_gradients",),
    "image": ("occlusion", "saliency"),
}
#: keys of the interpret block that apply to one featurizer type only
INTERPRET_KEYS_BY_TYPE = {"motif_width": "onehot", "optimize_steps": "onehot", "optimize_starts": "onehot",
                          "window": "image", "stride": "image"}


class InterpretSpec(Spec):
    """Attributions of replicate 0's model on one part of the data (biodl.stages.interpret)."""

    method: Optional[Literal["ism", "gradient_x_input", "integrated_gradients", "occlusion", "saliency"]] = Field(
        None, description="default: the first one the featurizer allows (ism, occlusion, integrated_gradients)")
    part: Name = Field("test", description="a split part (train, valid, test) or one of the experiment's test_sets")
    items: Annotated[int, Bounds(ge=1, le=1_000_000)] = Field(200, description="items attributed (at most)")
    task: Optional[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        None, description="the target explained (default: the first)")
    draw: Annotated[int, Bounds(ge=0, le=50)] = Field(4, description="figures per group in the report")
    motif_width: Annotated[int, Bounds(ge=0, le=64)] = Field(
        19, description="DNA: seqlet width for motif discovery and the JASPAR comparison (0: none)")
    optimize_steps: Annotated[int, Bounds(ge=0, le=1000)] = Field(
        0, description="DNA: greedy in-silico evolution steps from random sequences (0: none)")
    optimize_starts: Annotated[int, Bounds(ge=1, le=10_000)] = Field(20, description="DNA: random starting sequences")
    window: Annotated[int, Bounds(ge=1, le=4096)] = Field(16, description="images: occlusion patch side (pixels)")
    stride: Annotated[int, Bounds(ge=1, le=4096)] = Field(8, description="images: occlusion patch step (pixels)")


#: a library file biodl screen reads (its suffix, before an optional .gz)
LIBRARY_PATTERN = r"(?i)\.(csv|tsv|smi|smiles|txt|sdf|sd)(\.gz)?$"


class ScreenSpec(Spec):
    """A virtual screen of a library with an experiment's replicate-0 model (biodl.stages.screen)."""

    experiment: Name = Field(..., description="the experiment whose replicate-0 model scores the library")
    library: Annotated[str, StringConstraints(pattern=LIBRARY_PATTERN, max_length=4096)] = Field(
        ..., description="CSV / TSV / SMILES / SDF file, plain or .gz")
    smiles_col: Optional[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = None
    id_col: Optional[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = None
    task: Optional[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = None
    shards: Annotated[int, Bounds(ge=1, le=10_000)] = Field(1, description="independent jobs, joined at the end")
    chunk_size: Annotated[int, Bounds(ge=1, le=10_000_000)] = 10_000
    # biodl.screening.DEFAULT_CATALOGS (a test keeps them equal; importing it here would load numpy)
    filters: list[Name] = Field(default_factory=lambda: ["pains", "brenk", "inpharmatica"])
    tautomer: bool = False
    acquisition: Literal["score", "ucb"] = "score"
    beta: Annotated[float, Bounds(ge=0, le=1000)] = 1.0
    greater: bool = Field(True, description="false: low predictions rank first")
    top: Annotated[int, Bounds(ge=1, le=10_000_000)] = 1000
    picks: Annotated[int, Bounds(ge=0, le=1_000_000)] = 100
    pick_method: Literal["maxmin", "butina"] = "maxmin"
    in_domain_only: bool = False


ImageSide = Annotated[int, Bounds(ge=16, le=8192)]


def _image_size_kind(value: Any) -> str | None:
    if isinstance(value, list):
        return "kind=pair"
    return "kind=side" if isinstance(value, int) and not isinstance(value, bool) else None


#: one side (a square image) or [width, height], in pixels
ImageSize = Annotated[Annotated[ImageSide, Tag("kind=side")]
                      | Annotated[Annotated[list[ImageSide], annotated_types.Len(2, 2)], Tag("kind=pair")],
                      Discriminator(_image_size_kind, custom_error_type="image_size",
                                    custom_error_message="must be one side in pixels (128) or [width, height] "
                                                         "(e.g. [696, 520])")]


class SimulateCellsSpec(Spec):
    """The BBBC005-style simulator behind the default cell dataset."""

    out: PathStr = "results/raw/cells"
    seed: Annotated[int, Bounds(ge=0)] = 0
    counts: Annotated[list[Annotated[int, Bounds(ge=0, le=10_000)]], annotated_types.Len(2, 2)] = [1, 30]
    sites: Annotated[int, Bounds(ge=1, le=1000)] = 3
    blurs: list[Annotated[int, Bounds(ge=1, le=48)]] = [1, 10, 23, 48]
    size: ImageSize = Field(128, description="image side in pixels (square), or [width, height], e.g. [696, 520]")

    @model_validator(mode="after")
    def _range(self) -> SimulateCellsSpec:
        if self.counts[0] > self.counts[1]:
            raise PydanticCustomError("range", "counts must be [low, high] with low <= high")
        return self


def _simulate_kind(value: Any) -> str | None:
    return "kind=list" if isinstance(value, list) else "kind=one" if isinstance(value, (dict, SimulateCellsSpec)) \
        else None


#: one simulated set, or several (each its own ``out``): the benchmark config adds full-size fields
SimulateCells = Annotated[Annotated[SimulateCellsSpec, Tag("kind=one")]
                          | Annotated[Annotated[list[SimulateCellsSpec], annotated_types.Len(1, 20)], Tag("kind=list")],
                          Discriminator(_simulate_kind, custom_error_type="simulate_cells",
                                        custom_error_message="must be one simulator block or a list of them")]


def simulated_sets(spec) -> list:
    """The config's simulated cell sets as a list (``simulate_cells`` may be one block or several)."""
    value = spec.simulate_cells
    return list(value) if isinstance(value, list) else [value]


@cache
def _build_spec_classes():
    """DatasetSpec, ExperimentSpec and ConfigSpec, built once the registries are imported."""
    from pydantic import create_model

    blocks = _registry_blocks()
    featurizer_type, split_type = _block_type("featurizer"), _block_type("split")
    model_type, baseline_type = _block_type("model"), _block_type("baseline")

    dataset = create_model(
        "DatasetSpec", __base__=Spec,
        description=(Optional[Text], None),
        source=(SourceSpec, ...),
        featurizers=(Annotated[list[Name], annotated_types.MinLen(1)], ...),
        splits=(dict[Name, split_type], Field(default_factory=dict)),
    )
    experiment = create_model(
        "ExperimentSpec", __base__=Spec,
        description=(Optional[Text], None),
        dataset=(Name, ...),
        featurizer=(Name, ...),
        split=(Name, ...),
        task=(Optional[Literal[tuple(task_names())]], None),  # type: ignore[valid-type]
        n_classes=(Optional[Annotated[int, Bounds(ge=2, le=100_000)]], None),
        model=(model_type, ...),
        train=(blocks["train"], Field(default_factory=blocks["train"])),
        search=(Optional[SearchSpec], None),
        baseline=(baseline_type, None),  # left out: no baseline
        test_sets=(list[Name], Field(default_factory=list)),
        # segmentation: other experiments on the same dataset and split whose count predictions are
        # scored beside this one's (a count-regression CNN beside the U-Net)
        compare_counts=(list[Name], Field(default_factory=list)),
        gpu=(bool, False),
        # replicate r splits with seed + r and trains with seed + r; scores are reported as mean ± sd
        replicates=(Annotated[int, Bounds(ge=1, le=100)], 1),
        uncertainty=(blocks["uncertainty"], Field(default_factory=blocks["uncertainty"])),
        # attributions of replicate 0's model, written to results/interpret/ and shown in the report
        interpret=(Optional[InterpretSpec], None),
    )
    config = create_model(
        "ConfigSpec", __base__=Spec,
        seed=(Annotated[int, Bounds(ge=0, le=2**31 - 1)], 0),
        n_jobs=(Annotated[int, Bounds(ge=-1, le=1024)], 1),
        featurizers=(dict[Name, featurizer_type], ...),
        simulate_cells=(SimulateCells, Field(default_factory=SimulateCellsSpec)),
        datasets=(Annotated[dict[Name, dataset], annotated_types.MinLen(1)], ...),
        experiments=(dict[Name, experiment], Field(default_factory=dict)),
        screens=(dict[Name, ScreenSpec], Field(default_factory=dict)),
    )
    return dataset, experiment, config


# -- cross-references ------------------------------------------------------------------------------
class _Problem(Exception):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")


def _cross_check(spec) -> None:
    """Every name an experiment or dataset uses exists and fits; raises _Problem."""
    classes = _registry_blocks()["classes"]
    featurizer_cls = {name: classes["featurizer"][f.type] for name, f in spec.featurizers.items()}
    outs = [sim.out for sim in simulated_sets(spec)]
    for i, out in enumerate(outs):
        if out in outs[:i]:
            raise _Problem(f"simulate_cells[{i}].out", f"{out!r} is written by simulate_cells[{outs.index(out)}] too")
    for name, ds in spec.datasets.items():
        fmt = ds.source.format
        for i, fz in enumerate(ds.featurizers):
            where = f"datasets.{name}.featurizers[{i}]"
            if fz not in spec.featurizers:
                raise _Problem(where, f"{fz!r} is not defined under featurizers "
                                      f"(defined: {', '.join(spec.featurizers) or 'none'})")
            modality = featurizer_cls[fz].modality
            if modality not in SOURCE_MODALITIES[fmt]:
                raise _Problem(where, f"featurizer {fz!r} reads {modality} inputs; a {fmt} source gives "
                                      f"{' or '.join(SOURCE_MODALITIES[fmt])} inputs")
    for name, exp in spec.experiments.items():
        where = f"experiments.{name}"
        if name == "index":
            raise _Problem("experiments", "the name 'index' is taken by the leaderboard page (index.html)")
        ds = spec.datasets.get(exp.dataset)
        if ds is None:
            raise _Problem(f"{where}.dataset", f"{exp.dataset!r} is not defined under datasets "
                                               f"(defined: {', '.join(spec.datasets)})")
        if exp.featurizer not in ds.featurizers:
            raise _Problem(f"{where}.featurizer", f"{exp.featurizer!r} is not listed for dataset {exp.dataset!r} "
                                                  f"(listed: {', '.join(ds.featurizers)})")
        if exp.split not in ds.splits:
            raise _Problem(f"{where}.split", f"{exp.split!r} is not defined under datasets.{exp.dataset}.splits "
                                             f"(defined: {', '.join(ds.splits) or 'none'})")
        split = ds.splits[exp.split]
        if getattr(split, "keep_positives", False) and exp.task is not None and exp.task != "binary":
            # the splitter would refuse at split time; say it before any job runs
            raise _Problem(f"datasets.{exp.dataset}.splits.{exp.split}.keep_positives",
                           f"needs 0/1 labels (task: binary); experiment {name!r} is {exp.task}")
        layout = featurizer_cls[exp.featurizer].layout
        model_cls = classes["model"][exp.model.type]
        if layout not in model_cls.accepts:
            raise _Problem(f"{where}.model.type", f"model {exp.model.type!r} reads {' or '.join(model_cls.accepts)} "
                                                  f"features; featurizer {exp.featurizer!r} gives {layout}")
        task = task_class(exp.task) if exp.task else None
        if exp.n_classes is not None and not getattr(task, "class_rows", False):  # labels are class indices
            raise _Problem(f"{where}.n_classes", "applies to a task with classes (task: multiclass)")
        if getattr(exp.model, "output", "linear") == "sigmoid":
            # a sigmoid predicts values in (0, 1), in target units: a regression mean, nothing else
            loss = exp.train.loss
            if exp.task not in (None, "regression") or exp.uncertainty.heteroscedastic or loss not in (None, "mse"):
                raise _Problem(f"{where}.model.output", "sigmoid is for regression targets in (0, 1) with the "
                                                        f"mse loss and no variance head; experiment {name!r} is "
                                                        f"{exp.task}{'' if loss in (None, 'mse') else ' with loss ' + loss}")
        if exp.train.augment == "reverse_complement" and layout != "sequence":
            raise _Problem(f"{where}.train.augment", f"reverse_complement applies to DNA codes (a featurizer of "
                                                     f"type onehot); featurizer {exp.featurizer!r} gives {layout}")
        if exp.train.load == "disk" and layout == "graph":
            raise _Problem(f"{where}.train.load", f"disk applies to array features; featurizer {exp.featurizer!r} "
                                                  "gives molecular graphs, which train from memory")
        if exp.train.class_weight == "balanced" and exp.task not in (None, "binary"):
            raise _Problem(f"{where}.train.class_weight", f"balanced applies to binary tasks; experiment "
                                                          f"{name!r} is {exp.task}")
        if exp.uncertainty.heteroscedastic and task is not None and not task.heteroscedastic_loss:
            raise _Problem(f"{where}.uncertainty.heteroscedastic", f"applies to regression, not {exp.task}")
        _check_segmentation(spec, name, exp, ds)
        featurizers_read = [("featurizer", exp.featurizer)]
        if exp.baseline is not None:
            base_fz = exp.baseline.featurizer or exp.featurizer
            featurizers_read.append(("baseline.featurizer", base_fz))
            if base_fz not in ds.featurizers:
                raise _Problem(f"{where}.baseline.featurizer", f"{base_fz!r} is not listed for dataset "
                                                               f"{exp.dataset!r} (listed: {', '.join(ds.featurizers)})")
            base_cls = classes["baseline"][exp.baseline.type]
            # task classes or their names, whichever the baseline lists
            tasks = [getattr(task, "name", task) for task in base_cls.task_types]
            if exp.task is not None and exp.task not in tasks:
                raise _Problem(f"{where}.baseline.type", f"baseline {exp.baseline.type!r} does "
                                                         f"{', '.join(tasks)}, not {exp.task}")
            if featurizer_cls[base_fz].layout == "graph":
                raise _Problem(f"{where}.baseline.featurizer", f"baselines read vectors or images, and {base_fz!r} "
                                                               "gives molecular graphs: name a fingerprint or "
                                                               "descriptor featurizer here")
            if getattr(base_cls, "modality", None) and featurizer_cls[base_fz].modality != base_cls.modality:
                raise _Problem(f"{where}.baseline.type", f"baseline {exp.baseline.type!r} reads "
                                                         f"{base_cls.modality} features, not {base_fz!r}")
        for i, test_set in enumerate(exp.test_sets):
            other = spec.datasets.get(test_set)
            if other is None:
                raise _Problem(f"{where}.test_sets[{i}]", f"{test_set!r} is not defined under datasets")
            if test_set == exp.dataset:
                raise _Problem(f"{where}.test_sets[{i}]", f"{test_set!r} is the experiment's own dataset "
                                                          "(its test part is scored already)")
            for key, fz in featurizers_read:
                if fz not in other.featurizers:
                    raise _Problem(f"{where}.test_sets[{i}]", f"dataset {test_set!r} must be featurized with "
                                                              f"{fz!r} ({key}) too (listed: "
                                                              f"{', '.join(other.featurizers)})")
        _check_interpret(spec, name, exp, ds)
        _check_search(where, exp)
    _check_screens(spec)


def _check_screens(spec) -> None:
    """A screen names a molecule experiment that ranks one output, known alert catalogs, and no more
    picks than candidates."""
    from biodl.screening import CATALOGS

    classes = _registry_blocks()["classes"]
    for name, screen in spec.screens.items():
        where = f"screens.{name}"
        exp = spec.experiments.get(screen.experiment)
        if exp is None:
            raise _Problem(f"{where}.experiment", f"{screen.experiment!r} is not defined under experiments "
                                                  f"(defined: {', '.join(spec.experiments) or 'none'})")
        modality = classes["featurizer"][spec.featurizers[exp.featurizer].type].modality
        if modality != "molecule":
            raise _Problem(f"{where}.experiment", f"{screen.experiment!r} reads {modality}; a screen needs a "
                                                  "molecule model")
        task = task_class(exp.task) if exp.task else None
        if task is not None and (getattr(task, "class_rows", False) or task.pixelwise):
            raise _Problem(f"{where}.experiment", f"{screen.experiment!r} is {exp.task}; a screen ranks one "
                                                  "output of a regression or binary model")
        for i, catalog in enumerate(screen.filters):
            if catalog not in CATALOGS:
                raise _Problem(f"{where}.filters[{i}]", f"unknown alert catalog {catalog!r} (known: "
                                                        f"{', '.join(CATALOGS)})")
        if screen.picks > screen.top:
            raise _Problem(f"{where}.picks", f"{screen.picks} picks from {screen.top} candidates (top): raise top")
        if screen.acquisition == "score" and "beta" in screen.model_fields_set:
            raise _Problem(f"{where}.beta", "applies to acquisition: ucb")
        targets = _source_targets(spec.datasets[exp.dataset].source)
        if screen.task is not None and targets is not None and screen.task not in targets:
            raise _Problem(f"{where}.task", f"{screen.task!r} is not a target of dataset {exp.dataset!r} "
                                            f"({', '.join(targets)})")


def _check_segmentation(spec, name: str, exp, ds) -> None:
    """The segmentation task and the U-Net go together, need masks, and train one network (no
    search, ensemble or calibration); its training-crop settings and count comparisons are its own."""
    where = f"experiments.{name}"
    segmentation = exp.task is not None and task_class(exp.task).pixelwise
    model_cls = _registry_blocks()["classes"]["model"][exp.model.type]
    if model_cls.pixelwise != segmentation:
        if segmentation:
            able = [n for n, c in _registry_blocks()["classes"]["model"].items() if c.pixelwise]
            raise _Problem(f"{where}.model.type", f"task {exp.task} trains a {' or '.join(able)}, not "
                                                  f"{exp.model.type!r}")
        pixel_tasks = [n for n in task_names() if task_class(n).pixelwise]
        raise _Problem(f"{where}.task", f"model {exp.model.type} predicts pixel classes: set task: "
                                        f"{' or '.join(pixel_tasks)}")
    if not segmentation:
        for key in ("crop", "steps_per_epoch"):
            if getattr(exp.train, key) is not None:
                raise _Problem(f"{where}.train.{key}", f"applies to a pixel-wise task (segmentation: random "
                                                        f"training crops), not {exp.task or 'this task'}")
        if exp.compare_counts:
            raise _Problem(f"{where}.compare_counts", "applies to a pixel-wise task (segmentation)")
        return
    if getattr(ds.source, "masks", None) is None:
        raise _Problem(f"datasets.{exp.dataset}.source.masks", f"experiment {name!r} segments cells and needs a "
                                                                "folder of instance masks here")
    if exp.search is not None:
        raise _Problem(f"{where}.search", "not available for segmentation yet: set model and train by hand")
    used = ("epochs", "batch_size", "lr", "weight_decay", "patience", "crop", "steps_per_epoch", "device",
            "progress", "seed", "loss")
    for key in sorted(exp.train.model_fields_set - set(used)):
        raise _Problem(f"{where}.train.{key}", f"not used by segmentation training (it reads {', '.join(used[:8])}; "
                                               "AdamW, flips and 90° turns are built in)")
    if exp.train.loss not in (None, *task_class(exp.task).losses):
        raise _Problem(f"{where}.train.loss", f"segmentation trains with {', '.join(task_class(exp.task).losses)}")
    for i, test_set in enumerate(exp.test_sets):
        other = spec.datasets.get(test_set)
        if other is not None and getattr(other.source, "masks", None) is None:
            raise _Problem(f"{where}.test_sets[{i}]", f"dataset {test_set!r} has no masks: folder to score the "
                                                      "segmentation against")
    unc = exp.uncertainty
    if unc.method != "none" or unc.heteroscedastic:
        raise _Problem(f"{where}.uncertainty", "segmentation states no uncertainty yet: leave the block out")
    for i, other_name in enumerate(exp.compare_counts):
        other = spec.experiments.get(other_name)
        at = f"{where}.compare_counts[{i}]"
        if other is None or other_name == name:
            raise _Problem(at, f"{other_name!r} is not another experiment (defined: {', '.join(spec.experiments)})")
        if (other.dataset, other.split) != (exp.dataset, exp.split):
            raise _Problem(at, f"{other_name!r} uses dataset {other.dataset!r} split {other.split!r}; counts are "
                               f"compared on the same images: dataset {exp.dataset!r} split {exp.split!r}")
        if other.task not in (None, "regression"):
            raise _Problem(at, f"{other_name!r} is {other.task}; a count comparison reads a regression's counts")
        if other.replicates < exp.replicates:
            raise _Problem(at, f"{other_name!r} has {other.replicates} replicate(s), this experiment "
                               f"{exp.replicates}: each replicate is compared with the other's same replicate")


def _source_targets(source) -> list[str] | None:
    """The target names a source gives (None when only the data can tell)."""
    if getattr(source, "targets", None):
        return list(source.targets)
    if getattr(source, "header_targets", None):
        return list(source.header_targets)
    target = getattr(source, "target", None)
    return [target] if isinstance(target, str) else None


def _check_interpret(spec, name: str, exp, ds) -> None:
    """The interpret block fits the experiment: a method for its features and model, a part that
    exists, a target it predicts, and no key that applies to another modality."""
    block = exp.interpret
    if block is None:
        return
    where = f"experiments.{name}.interpret"
    kind = spec.featurizers[exp.featurizer].type
    allowed = INTERPRET_METHODS.get(kind)
    if allowed is None:
        built = ", ".join(INTERPRET_METHODS)
        raise _Problem(where, f"interpretation is built for featurizers of type {built}; {exp.featurizer!r} is "
                              f"{kind}")
    if block.method is not None and block.method not in allowed:
        raise _Problem(f"{where}.method", f"{block.method} does not apply to {kind} features (use "
                                          f"{' or '.join(allowed)})")
    for key, only in INTERPRET_KEYS_BY_TYPE.items():
        if key in block.model_fields_set and kind != only:
            raise _Problem(f"{where}.{key}", f"applies to {only} features, not {kind}")
    if kind == "image" and block.window < block.stride:
        raise _Problem(f"{where}.stride", f"{block.stride} is larger than the window ({block.window}): pixels "
                                          "between patches would never be occluded")
    if block.part not in ("train", "valid", "test", *exp.test_sets):
        raise _Problem(f"{where}.part", f"{block.part!r} is not a split part (train, valid, test) or one of the "
                                        f"experiment's test_sets ({', '.join(exp.test_sets) or 'none'})")
    task = task_class(exp.task) if exp.task else None
    if task is not None and getattr(task, "class_rows", False):
        raise _Problem(where, f"not built for {exp.task} models yet (binary and regression are)")
    if block.task is not None:
        if task is not None and task.pixelwise:
            raise _Problem(f"{where}.task", "a segmentation model explains its predicted cell area: leave task out")
        targets = _source_targets(ds.source)
        if targets is not None and block.task not in targets:
            raise _Problem(f"{where}.task", f"{block.task!r} is not a target of dataset {exp.dataset!r} "
                                            f"({', '.join(targets)})")


def _check_search(where: str, exp) -> None:
    """Each search value (each end of a range) must be a valid value of the parameter it
    overrides; ranges need a sampling method; the pruner settings apply to optuna alone."""
    if exp.search is None:
        return
    search = exp.search
    if search.method != "optuna":
        for name in ("pruner", "warmup_epochs", "startup_trials"):
            if name in search.model_fields_set:
                raise _Problem(f"{where}.search.{name}", f"applies to method optuna, not {search.method}")
    blocks = _registry_blocks()
    model_block = blocks["model"][exp.model.type]
    for key, values in search.space.items():
        section, _, param = key.partition(".")
        block = model_block if section == "model" else blocks["train"]
        base = exp.model.dump() if section == "model" else exp.train.dump()
        if param not in block.model_fields or param in ("type",):
            allowed = [k for k in block.model_fields if k != "type"]
            raise _Problem(f"{where}.search.space.{key}", f"{param!r} is not a {section} parameter"
                                                          f"{' of ' + repr(exp.model.type) if section == 'model' else ''} "
                                                          f"(allowed: {', '.join(allowed)})")
        if isinstance(values, SearchRange):
            if search.method == "grid":
                raise _Problem(f"{where}.search.space.{key}", "a range needs method random or optuna "
                                                              "(a grid takes a list of values)")
            named = [(f".{end}", getattr(values, end)) for end in ("low", "high")]
        else:
            named = [(f"[{i}]", value) for i, value in enumerate(values)]
        for suffix, value in named:
            try:
                block.model_validate({**base, param: value})
            except ValidationError as exc:
                error = exc.errors()[0]
                raise _Problem(f"{where}.search.space.{key}{suffix}", _message(error)) from None


# -- errors as one line ----------------------------------------------------------------------------
def _path(loc: Sequence[Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif isinstance(item, str) and ("=" in item or item == "[key]"):
            continue  # a union's tag (type=mlp) or pydantic's marker for a dict key
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


_BOUND_WORDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _message(error: Mapping[str, Any]) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "unknown_key":
        return f"unknown key {ctx['key']!r} ({ctx['hint']}allowed: {ctx['allowed']})"
    if kind == "unknown_tag":
        got = value.get(ctx["key"]) if isinstance(value, dict) else None
        if not isinstance(value, dict):
            return f"must be a mapping with a {ctx['key']!r} key (got {_short(value)})"
        return (f"{ctx['key']}: {'missing' if got is None else 'unknown value ' + _short(got)} "
                f"(allowed: {ctx['allowed']})")
    for word, sign in _BOUND_WORDS.items():
        if kind == word:
            bound = next(iter(ctx.values()))
            return f"must be {sign} {bound} (got {_short(value)})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_short(value)})"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == NAME_PATTERN:
            return (f"name {_short(value)} must be 1-64 letters, digits, '_' or '-', starting with a letter or "
                    "digit (names become file names)")
        return f"{_short(value)} does not match {ctx.get('pattern')}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("too_short", "too_long"):
        return f"{error['msg'].lower()} (got {_short(value)})"
    if kind in ("finite_number",):
        return f"must be a finite number (got {_short(value)})"
    msg = error["msg"]
    msg = msg.removeprefix("Value error, ")
    return f"{msg[:1].lower()}{msg[1:]} (got {_short(value)})"


def format_error(exc: ValidationError, where: str) -> str:
    """The first error of a pydantic ValidationError as one line: ``where: key.path: message``."""
    errors = exc.errors(include_url=False)
    # a discriminated union may report a missing tag and the inner error: the inner one says more
    error = errors[0]
    path = _path(error["loc"])
    if error["type"] == "unknown_key":
        key = error["ctx"]["key"]
        path = key if path == "(top level)" else f"{path}.{key}"
    elif error["type"] == "unknown_tag":
        key = error["ctx"]["key"]
        if not isinstance(error.get("input"), dict):
            return f"{where}: {path}: {_message(error)}"
        path = key if path == "(top level)" else f"{path}.{key}"
        return f"{where}: {path}: {_message(error).split(': ', 1)[1]}"
    return f"{where}: {path}: {_message(error)}"


# -- size guard ------------------------------------------------------------------------------------
def check_size(data: Any, where: str, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a config with more than ``max_nodes`` values or deeper than ``max_depth``, counting
    shared YAML aliases once per use — so an alias bomb stops after ``max_nodes`` steps."""
    stack = [(data, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > max_nodes:
            raise UserError(f"{where}: more than {max_nodes:,} values (YAML aliases counted per use); "
                            "not a config biodl reads")
        if depth > max_depth:
            raise UserError(f"{where}: nested deeper than {max_depth} levels; not a config biodl reads")
        if isinstance(value, Mapping):
            stack.extend((v, depth + 1) for v in value.values())
            stack.extend((k, depth + 1) for k in value.keys())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and len(value) > 100_000:
            raise UserError(f"{where}: a string of {len(value):,} characters; not a config biodl reads")


# -- entry points ----------------------------------------------------------------------------------
def parse_config(data: Any, where: str = "config"):
    """Check a whole config (a dict as YAML gives it) and return the ConfigSpec; UserError on the
    first mistake, naming its key path."""
    check_size(data, where)
    if not isinstance(data, dict):
        raise UserError(f"{where}: the config must be a mapping of keys (got {type(data).__name__})")
    _, _, config_cls = _build_spec_classes()
    try:
        spec = config_cls.model_validate(data)
    except ValidationError as exc:
        raise UserError(format_error(exc, where)) from None
    try:
        _cross_check(spec)
    except _Problem as exc:
        raise UserError(f"{where}: {exc}") from None
    return spec


def read_yaml(path: str | Path, what: str = "config") -> Any:
    """A YAML (or JSON) file's data, after checking it exists and is no bigger than any sane config;
    a missing file or a YAML error is one UserError line naming the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} file not found: {path}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise UserError(f"{path}: {path.stat().st_size:,} bytes; not a {what} biodl reads")
    try:
        return yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None


def load_config(path: str | Path):
    """Read and check a config YAML file; returns the ConfigSpec."""
    data = read_yaml(path)
    return parse_config(data if data is not None else {}, where=str(path))


def parse_block(kind: str, data: Any, where: str) -> Any:
    """Check one block given on its own (a CLI ``--featurizer`` / ``--source`` / ``--spec`` /
    ``--experiment`` JSON): ``kind`` is featurizer, source, split, model, baseline, train,
    uncertainty or experiment. Returns the validated block."""
    from pydantic import TypeAdapter

    check_size(data, where)
    if kind == "source":
        target: Any = SourceSpec
    elif kind == "experiment":
        target = _build_spec_classes()[1]
    elif kind in ("train", "uncertainty"):
        target = _registry_blocks()[kind]
    elif kind == "interpret":
        target = InterpretSpec
    else:
        target = _block_type(kind)
    try:
        value = TypeAdapter(target).validate_python(data)
    except ValidationError as exc:
        line = format_error(exc, where)
        raise UserError(line.replace(f"{where}: (top level): ", f"{where}: ")) from None
    if kind == "experiment":
        try:
            _check_search("experiment", value)
        except _Problem as exc:
            raise UserError(f"{where}: {exc}") from None
    return value


def workflow_spec(config: dict, where: str = "config"):
    """For the Snakefile: the checked spec, or one line on stderr and exit code 2 — before
    Snakemake plans, prints or runs anything."""
    try:
        return parse_config(config, where)
    except UserError as exc:
        print(f"biodl: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


# -- the JSON schema -------------------------------------------------------------------------------
SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.yaml"


def json_schema() -> dict[str, Any]:
    """The JSON schema of the whole config, generated from the spec (and so from the registries)."""
    _, _, config_cls = _build_spec_classes()
    schema = config_cls.model_json_schema(mode="validation")
    _close_named_maps(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "biodl workflow configuration",
            "description": "Generated by `python -m biodl.spec` from biodl.spec and the registered featurizers, "
                           "split methods, models and baselines; do not edit by hand.",
            **{k: v for k, v in schema.items() if k not in ("title", "description")}}


def _close_named_maps(node: Any) -> None:
    """A map of names (datasets, experiments, ...) takes no key outside the name pattern."""
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_named_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_named_maps(value)


def schema_text() -> str:
    import yaml

    return yaml.safe_dump(json_schema(), sort_keys=True, width=110, allow_unicode=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m biodl.spec``: write the generated schema; ``--check`` fails if it is stale."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m biodl.spec", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in schema is stale")
    args = parser.parse_args(argv)
    text = schema_text()
    if args.check:
        stale = not SCHEMA_PATH.is_file() or SCHEMA_PATH.read_text() != text
        print(f"{SCHEMA_PATH}: {'stale — run python -m biodl.spec' if stale else 'up to date'}", file=sys.stderr)
        return 1 if stale else 0
    from biodl.io import write_text

    write_text(SCHEMA_PATH, text)
    print(f"{SCHEMA_PATH}: written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
