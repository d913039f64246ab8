"""Hyperparameter search on the validation split: grid, seeded random, or Optuna (TPE + pruning).

A search space maps ``model.<param>`` / ``train.<param>`` to either a list of values (a
categorical choice: a grid axis, or a value drawn uniformly) or a range ``{low, high, log}``
(integers when both ends are integers, else floats; ``log: true`` draws log-uniformly).

- ``grid``: every combination of the lists; ranges are refused (biodl.spec says so first).
- ``random``: ``n_trials`` configurations drawn with a numpy Generator seeded from the experiment's
  derived seed. A space of lists alone keeps the older behaviour: a seeded subset of the grid,
  without repeats.
- ``optuna``: TPE (seeded per trial, see :func:`sampler`) with a median pruner fed the running best
  validation score each epoch through :func:`biodl.train.fit`'s ``progress`` callback. Trial 0 is
  the configuration as written (``study.enqueue_trial``), so a search can only improve on the
  validation split. The study lives in a journal file (``<model dir>.search.journal``): a rerun
  after a kill continues with the trials that finished and stops at ``n_trials`` in all; raising
  ``n_trials`` adds trials to the same study.

Every method scores trials on the validation split alone; the test split never reaches it.

Why the sampler is rebuilt from ``(seed, k)`` before trial ``k``: one TPESampler seeded once draws
from a random stream that a resumed process would restart, so a run killed after trial 3 would
continue with other parameters than an uninterrupted one. Seeded per trial, trial ``k``'s
parameters depend on the seed and the finished trials only, and a resumed search equals an
uninterrupted one on the CPU.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from biodl.errors import UserError

METHODS = ("grid", "random", "optuna")
#: TPE draws its first trials at random (the configuration as written is one of them)
TPE_STARTUP_TRIALS = 5
_MISSING = object()


# -- the space ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    """A list of values to choose from."""

    values: tuple

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def contains(self, value: Any) -> bool:
        return self.index(value) is not None

    def index(self, value: Any) -> int | None:
        return next((i for i, v in enumerate(self.values) if _same(v, value)), None)


@dataclass(frozen=True)
class Range:
    """``[low, high]``: integers when both ends are, else floats; ``log``: log-uniform."""

    low: float
    high: float
    log: bool = False

    @property
    def integer(self) -> bool:
        return _is_int(self.low) and _is_int(self.high)

    def sample(self, rng: np.random.Generator) -> int | float:
        if self.integer:
            if not self.log:
                return int(rng.integers(self.low, self.high + 1))
            # each integer gets the log-width of [k - 1/2, k + 1/2], as optuna's log int distribution
            value = math.exp(rng.uniform(math.log(self.low - 0.5), math.log(self.high + 0.5)))
            return int(min(max(round(value), self.low), self.high))
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return float(min(max(value, self.low), self.high))

    def contains(self, value: Any) -> bool:
        if not _is_number(value) or (self.integer and not _is_int(value)):
            return False
        return self.low <= value <= self.high


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b
    return _json(a) == _json(b)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def parse_space(space: Mapping | None) -> dict[str, Choice | Range]:
    """The space, keys sorted: lists → :class:`Choice`, ``{low, high, log}`` → :class:`Range`.
    biodl.spec checks configs first with the key path; this guards direct callers."""
    out: dict[str, Choice | Range] = {}
    for key in sorted(space or {}):
        value = space[key]
        if key.split(".")[0] not in ("model", "train") or not key.partition(".")[2]:
            raise UserError(f"search.space: {key!r} must be model.<param> or train.<param> with a list of values "
                            "or a range")
        if isinstance(value, (list, tuple)) and value:
            out[key] = Choice(tuple(value))
        elif isinstance(value, Mapping):
            extra = set(value) - {"low", "high", "log"}
            low, high, log = value.get("low"), value.get("high"), value.get("log", False)
            if extra or not (_is_number(low) and _is_number(high)) or not isinstance(log, bool):
                raise UserError(f"search.space.{key}: a range is {{low: <number>, high: <number>, log: true|false}}")
            if not low < high:
                raise UserError(f"search.space.{key}: low must be < high (got low {low}, high {high})")
            if log and low <= 0:
                raise UserError(f"search.space.{key}: log: true needs low > 0 (got low {low})")
            out[key] = Range(low, high, log)
        else:
            raise UserError(f"search.space: {key!r} must be model.<param> or train.<param> with a list of values "
                            "or a range")
    return out


def method_of(search: Mapping | None) -> str:
    method = (search or {}).get("method", "grid")
    if method not in METHODS:
        raise UserError(f"search.method: {method!r} (choose {', '.join(METHODS)})")
    return method


# -- grid and random ------------------------------------------------------------------------------
def search_trials(search: Mapping | None, seed: int) -> list[dict]:
    """Overrides to try, in order, for ``grid`` and ``random`` (``optuna`` asks as it goes).

    Grid: every combination of the lists. Random: ``n_trials`` (default 10) draws from a numpy
    Generator seeded with ``seed``; with lists alone, a subset of the grid without repeats."""
    if not search:
        return [{}]
    method = method_of(search)
    if method == "optuna":
        raise UserError("search.method: optuna trials are asked one at a time (biodl.search.optuna_search)")
    dims = parse_space(search.get("space"))
    ranges = [k for k, d in dims.items() if isinstance(d, Range)]
    if method == "grid":
        if ranges:
            raise UserError(f"search.space.{ranges[0]}: a range needs method random or optuna "
                            "(a grid takes a list of values)")
        return _grid(dims)
    rng = np.random.default_rng(seed)
    n = int(search.get("n_trials", 10))
    if not ranges:
        grid = _grid(dims)
        return [grid[i] for i in sorted(rng.choice(len(grid), size=min(n, len(grid)), replace=False))]
    return [{k: d.sample(rng) for k, d in dims.items()} for _ in range(n)]


def _grid(dims: Mapping[str, Choice | Range]) -> list[dict]:
    keys = list(dims)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(dims[k].values for k in keys))]


# -- the configuration as written -----------------------------------------------------------------
def written_values(dims: Mapping, model_spec: Mapping, train: Mapping) -> dict[str, Any]:
    """Each searched parameter's value in the configuration as written (or its default)."""
    from biodl.model_params import MODEL_PARAMS
    from biodl.train import TrainConfig

    out = {}
    train_defaults = {f.name: f.default for f in fields(TrainConfig)}
    params = MODEL_PARAMS.get(model_spec["type"], "model.type") if model_spec.get("type") in MODEL_PARAMS else None
    model_defaults = {} if params is None else {
        n: p.default for n, p in inspect.signature(params.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty}
    for key in dims:
        section, _, name = key.partition(".")
        given, defaults = (model_spec, model_defaults) if section == "model" else (train, train_defaults)
        value = given.get(name, defaults.get(name, _MISSING))
        if value is not _MISSING:
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


# -- optuna ---------------------------------------------------------------------------------------
def journal_path(model_dir: str | Path) -> Path:
    """Where an optuna search keeps its study: next to the model directory, which is replaced whole."""
    return Path(f"{Path(model_dir)}.search.journal")


def checkpoint_path(model_dir: str | Path) -> Path:
    """The best finished trial's model, so a resumed search need not train it again."""
    return Path(f"{Path(model_dir)}.search.best.pt")


def study_name(name: str, identity: Mapping) -> str:
    """``<experiment>-<digest>``: a digest of everything that shapes the trials except n_trials,
    so a changed configuration starts a new study and a larger n_trials extends the old one."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return f"{name}-{digest[:16]}"


def sampler(seed: int, k: int):
    """The TPE sampler that asks trial ``k``: seeded from the search seed and ``k`` alone."""
    import optuna

    from biodl.train import derive_seed

    return optuna.samplers.TPESampler(seed=derive_seed(seed, "optuna", str(k)),
                                      n_startup_trials=TPE_STARTUP_TRIALS)


def pruner(search: Mapping, patience: int, epochs: int):
    """``median`` (default): a trial stops when its best validation score so far is worse than the
    median of the finished trials' at the same epoch, after ``startup_trials`` finished trials and
    ``warmup_epochs`` epochs (default: the early-stopping patience, which no trial can stop before)."""
    import optuna

    if search.get("pruner", "median") == "none":
        return optuna.pruners.NopPruner()
    warmup = search.get("warmup_epochs")
    warmup = min(patience, max(0, epochs - 1)) if warmup is None else int(warmup)
    return optuna.pruners.MedianPruner(n_startup_trials=int(search.get("startup_trials", 5)),
                                       n_warmup_steps=warmup)


def open_study(path: Path, name: str, greater: bool, prune, log: Callable[[str], None]):
    """Create or load study ``name`` in the journal at ``path``. A journal that holds only other
    studies (an older configuration) is removed with its checkpoint first; trials left running by
    a killed process are marked failed (they do not count towards n_trials and are asked again)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        try:
            names = [s.study_name for s in JournalStorage(JournalFileBackend(str(path))).get_all_studies()]
            why = f"holds another configuration's study ({', '.join(names)})" if names and name not in names else ""
        except ValueError as exc:  # json.JSONDecodeError too: a journal cut mid-line, then written to
            why = f"cannot be read ({exc})"
        if why:
            log(f"search: {path} {why}; starting over")
            path.unlink()
            checkpoint_path(str(path).removesuffix(".search.journal")).unlink(missing_ok=True)
    storage = JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize" if greater else "minimize",
                                pruner=prune, load_if_exists=True)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log(f"search: trial {trial.user_attrs.get('index', '?')} was cut short by an earlier run; asking again")
        study.tell(trial.number, state=TrialState.FAIL)
    return study


def trial_budget(search: Mapping, dims: Mapping) -> int:
    """How many trials an optuna search runs in all: ``n_trials``, or 1 for an empty space."""
    return int(search.get("n_trials", 10)) if dims else 1


def finished(study) -> list:
    """The trials that count towards n_trials (complete, pruned or failed with a recorded row), by index."""
    trials = [t for t in study.get_trials(deepcopy=False) if "row" in t.user_attrs]
    return sorted(trials, key=lambda t: t.user_attrs["index"])


def enqueue_as_written(study, dims: Mapping, written: Mapping) -> None:
    """Make the next trial the configuration as written unless one has it already (finished or waiting).
    Values outside the space (a dropout not in the list) are not suggested: the trial uses them as
    written, and TPE leaves that trial out of those parameters' model."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False):
        if trial.user_attrs.get("as_written") and (trial.state == TrialState.WAITING or "row" in trial.user_attrs):
            return
    params = {}
    for key, dim in dims.items():
        value = written.get(key, _MISSING)
        if value is _MISSING or not dim.contains(value):
            continue
        params[key] = _json(dim.values[dim.index(value)]) if isinstance(dim, Choice) else value
    study.enqueue_trial(params, user_attrs={"as_written": True})


def suggest(trial, dims: Mapping, written: Mapping) -> tuple[dict, dict]:
    """(overrides, values): what trial ``trial`` changes in the configuration, and every searched
    parameter's value in it. The configuration as written overrides nothing."""
    as_written = bool(trial.user_attrs.get("as_written"))
    values, overrides = {}, {}
    for key, dim in dims.items():
        if as_written and not (written.get(key, _MISSING) is not _MISSING and dim.contains(written[key])):
            values[key] = written.get(key)
            continue
        if isinstance(dim, Choice):
            choices = list(dict.fromkeys(_json(v) for v in dim.values))
            value = json.loads(trial.suggest_categorical(key, choices))
        elif dim.integer:
            value = trial.suggest_int(key, int(dim.low), int(dim.high), log=dim.log)
        else:
            value = trial.suggest_float(key, float(dim.low), float(dim.high), log=dim.log)
        values[key] = value
        if not as_written:
            overrides[key] = value
    return overrides, values


class Pruning:
    """:func:`biodl.train.fit`'s ``progress`` callback for one optuna trial: passes each epoch on to
    ``then`` (the job's progress), reports the running best validation score (the score the trial
    would keep if it stopped now: fit restores the best epoch's weights) and raises
    ``optuna.TrialPruned`` when the pruner says so — out of fit, which writes nothing."""

    def __init__(self, trial, then: Callable[[dict], None] | None = None, report: bool = True):
        self.trial, self.then, self.report = trial, then, report
        self.state: dict | None = None

    def __call__(self, state: dict) -> None:
        import optuna

        self.state = state
        prune = False
        if self.report and state.get("best") is not None:
            self.trial.report(float(state["best"]), int(state["epoch"]))
            prune = not state["last"] and self.trial.should_prune()
        if self.then is not None:
            # the job's progress sees the pruned trial's last epoch as its end (ETA, fit done lines)
            self.then({**state, "last": True} if prune else state)
        if prune:
            raise optuna.TrialPruned(f"pruned at epoch {state['epoch'] + 1}")


@dataclass
class Outcome:
    """One asked trial, trained: the model and history when it completed."""

    row: dict
    overrides: dict
    model: Any = None
    history: list | None = None


def optuna_search(search: Mapping, *, study, seed: int, dims: Mapping, written: Mapping, monitor: str,
                  train: Callable[[dict, Callable[[dict], None]], tuple[Any, list]],
                  on_best: Callable[[int, Any, list], None], log: Callable[[str], None],
                  begin_fit: Callable[[str], None], epoch: Callable[[dict], None] | None,
                  report: bool = True) -> tuple[list[dict], dict[int, dict], Outcome | None]:
    """Ask, train and tell until the study holds ``n_trials`` finished trials.

    ``train(overrides, progress)`` → (model, history) trains one configuration on the training
    split, early-stopped and scored on the validation split. ``on_best(index, model, history)``
    runs when a completed trial beats every earlier one (before it is told). Returns every
    finished trial's row, each index's overrides, and the best completed trial of this run (its
    model in memory), or None when none completed here."""
    import optuna
    from optuna.trial import TrialState

    from biodl.metrics import is_better

    n_trials = trial_budget(search, dims)
    done = finished(study)
    best = best_row([t.user_attrs["row"] for t in done], monitor)
    best_here = None
    while len(done) < n_trials:
        k = len(done)
        study.sampler = sampler(seed, k)
        trial = study.ask()
        overrides, values = suggest(trial, dims, written)
        trial.set_user_attr("index", k)
        trial.set_user_attr("overrides", overrides)
        label = "the configuration as written" if trial.user_attrs.get("as_written") else json.dumps(
            overrides, sort_keys=True)
        log(f"trial {k}: {label}")
        begin_fit(f"trial {k}")
        hook = Pruning(trial, epoch, report=report)
        t0 = time.perf_counter()
        row = {"trial": k, "state": "complete", **{key: _json(v) for key, v in values.items()}}
        try:
            model, history = train(overrides, hook)
        except optuna.TrialPruned:
            state = hook.state or {}
            row.update({"state": "pruned", f"valid_{monitor}": state.get("best"),
                        "best_epoch": state.get("best_epoch"), "epochs_run": state.get("epoch", -1) + 1,
                        "seconds": round(time.perf_counter() - t0, 2)})
            log(f"trial {k}: pruned after {row['epochs_run']} epochs (best valid {monitor} {row[f'valid_{monitor}']})")
            trial.set_user_attr("row", row)
            study.tell(trial, state=TrialState.PRUNED)
            done.append(trial)
            continue
        except UserError as exc:
            if trial.user_attrs.get("as_written"):
                study.tell(trial, state=TrialState.FAIL)  # no row: a rerun asks for it again
                raise
            # a drawn configuration that diverges (NaN validation score) fails alone; the search goes on
            row.update({"state": "failed", "error": str(exc)[:300], "seconds": round(time.perf_counter() - t0, 2)})
            log(f"trial {k}: failed ({exc})")
            trial.set_user_attr("row", row)
            study.tell(trial, state=TrialState.FAIL)
            done.append(trial)
            continue
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
        score = float(model.info[f"best_valid_{monitor}"])
        row.update({f"valid_{monitor}": score, "best_epoch": model.info["best_epoch"],
                    "epochs_run": model.info["epochs_run"], "seconds": round(time.perf_counter() - t0, 2)})
        if best is None or is_better(score, best[f"valid_{monitor}"], monitor):
            on_best(k, model, history)
            best, best_here = row, Outcome(row, overrides, model, history)
        trial.set_user_attr("row", row)
        study.tell(trial, score)
        done.append(trial)
    done = finished(study)
    return ([t.user_attrs["row"] for t in done], {t.user_attrs["index"]: t.user_attrs["overrides"] for t in done},
            best_here if best_here is not None and best is best_here.row else None)


def best_row(rows: list[dict], monitor: str) -> dict | None:
    """The completed trial with the best validation score (the earliest of equals), or None."""
    from biodl.metrics import is_better

    best = None
    for row in rows:
        if row["state"] == "complete" and (best is None or is_better(row[f"valid_{monitor}"],
                                                                     best[f"valid_{monitor}"], monitor)):
            best = row
    return best
