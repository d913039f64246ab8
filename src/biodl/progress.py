"""Training progress a person can see while ``snakemake --cores N`` runs, and ``biodl status``.

The train rule sends a job's stderr to its log (``2> {log}``) and leaves stdout alone, so Snakemake's
console shows what ``biodl train`` prints on stdout. :class:`TrainProgress` prints a few compact lines
there — the first epoch, then at most one line every ``every`` seconds, and the end of every fit —
each naming the experiment, fit k of K (search trials, then ensemble members), the epoch, the
validation score, the best so far and an estimate of the time left for the whole job. Every epoch
still goes to the log (``biodl.train.fit``'s ``log``); beside each printed line the log gets one
``progress {json}`` record, which ``biodl status`` reads back.

Why not tqdm: tqdm redraws one line with carriage returns, which a pipe (Snakemake's console, a
cluster's job output) shows as a smear or not at all, and its ETA covers one loop; here the job has
K fits that each stop early at an unknown epoch. tqdm still draws the epoch bar on a terminal.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

#: prefix of the machine-readable lines in a training log
RECORD = "progress "
#: a fit's per-epoch log line, as biodl.train.fit writes it
_EPOCH_LINE = re.compile(r"^epoch\s+(\d+)\s+train_loss\s+\S+\s+valid_(\w+)\s+(\S+)")
#: how a failed job's log ends: the CLI's one line, or a traceback's last line
_ERROR_LINE = re.compile(r"^(biodl [\w-]+: error: .*|[\w.]*(Error|Exception|Interrupt)(: .*)?)$")


def duration(seconds: float | None) -> str:
    """45s, 3m10s, 1h02m: short enough for a console line."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _number(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"


class NoProgress:
    """What the stage uses when nobody asked for progress."""

    def start(self, fits: int) -> None:
        pass

    def begin_fit(self, label: str) -> None:
        pass

    def epoch(self, state: dict) -> None:
        pass

    def finish(self, monitor: str | None = None, best: float | None = None) -> None:
        pass


class TrainProgress(NoProgress):
    """Progress of one training job (all its fits), printed to ``out`` and recorded via ``log``.

    ``epoch(state)`` is :func:`biodl.train.fit`'s ``progress`` hook; the stage calls ``start(K)``
    once, ``begin_fit(label)`` before each fit and ``finish()`` when the model is written.
    """

    def __init__(self, name: str, *, every: float = 20.0, out: TextIO | None | bool = None,
                 log: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.name, self.every, self.out, self.log, self.clock = name, every, out, log, clock
        self.fits, self.fit = 0, 0
        self.label = ""
        self.t_start = self.t_last = self.t_prev = clock()
        self.epoch_seconds: list[float] = []  # every epoch but each fit's first
        self.first_seconds = 0.0  # the latest fit's first epoch: building the model, moving data, warm-up
        self.finished_epochs: list[int] = []  # epochs run by each finished fit

    # -- what the stage calls ------------------------------------------------------------------
    def start(self, fits: int) -> None:
        self.fits = fits
        self.t_start = self.t_last = self.clock()
        self._record({"event": "start", "name": self.name, "fits": fits, "pid": os.getpid(),
                      "host": socket.gethostname()})

    def begin_fit(self, label: str) -> None:
        self.fit += 1
        self.label = label
        self.t_prev = self.clock()
        self._record({"event": "fit", "fit": self.fit, "fits": self.fits, "label": label})

    def epoch(self, state: dict) -> None:
        now = self.clock()
        e = state["epoch"] + 1
        if e == 1:
            self.first_seconds = now - self.t_prev
        else:
            self.epoch_seconds.append(now - self.t_prev)
        self.t_prev = now
        if state["last"]:
            self.finished_epochs.append(e)
        if not ((self.fit == 1 and e == 1) or state["last"] or now - self.t_last >= self.every):
            return
        self.t_last = now
        eta = self.eta(state)
        head = f"{self.name}: fit {self.fit}/{self.fits} ({self.label})"
        monitor = state["monitor"]
        if state["last"]:
            stopped = "early stop" if e < state["epochs"] else "epoch budget"
            line = (f"{head} done after {e} epochs ({stopped}): best valid {monitor} "
                    f"{_number(state['best'])} at epoch {state['best_epoch'] + 1}")
        else:
            line = (f"{head} epoch {e}/{state['epochs']}: valid {monitor} {_number(state['score'])}, "
                    f"best {_number(state['best'])}")
        line += f" | {duration(now - self.t_start)} elapsed"
        if eta is not None and (self.fit < self.fits or not state["last"]):
            line += f", ~{duration(eta)} left"
        self._print(line)
        self._record({"event": "fit_end" if state["last"] else "epoch", "fit": self.fit, "fits": self.fits,
                      "label": self.label, "epoch": e, "epochs": state["epochs"], "monitor": monitor,
                      "greater": state["greater"], "score": state["score"], "best": state["best"],
                      "elapsed_s": round(now - self.t_start, 1), "eta_s": None if eta is None else round(eta, 1)})

    def finish(self, monitor: str | None = None, best: float | None = None) -> None:
        """The job is done; ``best``: the selected model's validation score."""
        elapsed = self.clock() - self.t_start
        selected = f", selected model's valid {monitor} {_number(best)}" if monitor else ""
        self._print(f"{self.name}: trained in {duration(elapsed)} ({self.fits} fit{'s' * (self.fits != 1)}"
                    f"{selected})")
        self._record({"event": "done", "fits": self.fits, "fit": self.fits, "monitor": monitor, "best": best,
                      "elapsed_s": round(elapsed, 1)})

    # -- the estimate ----------------------------------------------------------------------------
    def eta(self, state: dict) -> float | None:
        """Seconds left for the whole job: epochs still expected × seconds per epoch so far, plus each
        later fit's start-up.

        Fits stop early at an epoch nobody knows in advance. The current fit runs at least until
        ``patience`` epochs after its best one; finished fits say how long a fit tends to run, and
        until one has finished, the current fit's least length stands in for the others. A fit's
        first epoch carries building the model (the job's first, imports too): it is timed apart.
        """
        if not self.epoch_seconds:
            return None  # the job's first epoch also imports and builds everything: no rate to go by yet
        e, budget = state["epoch"] + 1, state["epochs"]
        per_epoch = sum(self.epoch_seconds) / len(self.epoch_seconds)
        startup = max(self.first_seconds - per_epoch, 0.0) if self.fit > 1 else 0.0
        least = min(budget, state["best_epoch"] + 1 + state["patience"])
        typical = (sum(self.finished_epochs) / len(self.finished_epochs)) if self.finished_epochs else least
        current = 0 if state["last"] else max(min(max(typical, least), budget) - e, 0)
        later = max(self.fits - self.fit, 0)
        return (current + later * min(typical, budget)) * per_epoch + later * startup

    # -- output ------------------------------------------------------------------------------------
    def _print(self, line: str) -> None:
        if self.out is False:
            return
        try:
            print(line, file=self.out if self.out is not None else sys.stdout, flush=True)
        except (OSError, ValueError):  # a closed pipe (`biodl train ... | head`) must not stop the training
            self.out = False

    def _record(self, data: dict) -> None:
        if self.log:
            self.log(RECORD + json.dumps({"t": round(time.time(), 1), **data}, sort_keys=True))


# -- biodl status: one line per training log -----------------------------------------------------
@dataclass
class JobStatus:
    experiment: str
    replicate: str
    state: str  # not started, starting (a log, no record yet), running, finished, failed, stopped
    fit: int | None = None
    fits: int | None = None
    epoch: int | None = None
    epochs: int | None = None
    monitor: str | None = None
    best: float | None = None
    eta_s: float | None = None
    elapsed_s: float | None = None
    detail: str = ""


def read_log(path: Path, *, now: float | None = None, alive: Callable[[dict], bool | None] | None = None,
             experiment: str = "", replicate: str = "") -> JobStatus:
    """What one training log says: its progress records in order (each carries on the fields of the
    ones before), the epoch lines after the last record, and an error line if the job failed.
    ``alive(start_record)``: whether the job's process still runs (None: cannot tell, e.g. the job
    runs on another host)."""
    now = time.time() if now is None else now
    alive = alive or _process_alive
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return JobStatus(experiment, replicate, "unreadable", detail=str(exc))
    state: dict = {}
    start: dict = {}
    after: list[str] = []  # lines after the last record
    for line in lines:
        if not line.startswith(RECORD):
            after.append(line)
            continue
        try:
            record = json.loads(line[len(RECORD):])
        except json.JSONDecodeError:
            continue  # a record cut off by a killed job
        if record.get("event") == "start":
            start, state = record, {}
        if record.get("event") == "fit":  # a new fit: its own epochs and best; the job's time left carries on
            state.update(epoch=0, best=None, score=None)
        state.update({k: v for k, v in record.items() if v is not None or k in ("best", "eta_s")})
        after = []
    status = JobStatus(experiment, replicate, "started" if state else "starting",
                       fit=state.get("fit"), fits=state.get("fits"), epoch=state.get("epoch"),
                       epochs=state.get("epochs"), monitor=state.get("monitor"), best=state.get("best"),
                       elapsed_s=state.get("elapsed_s"))
    if state.get("event") == "done":
        status.state = "finished"
        return status
    for line in after:  # epochs logged since the last record (records come every ~20 s)
        m = _EPOCH_LINE.match(line)
        if not m:
            continue
        status.epoch, status.monitor, score = int(m[1]) + 1, m[2], _float(m[3])
        greater = state.get("greater")
        if score is not None and (status.best is None or (greater is not None and (
                score > status.best if greater else score < status.best))):
            status.best = score
    errors = [line.strip() for line in after if _ERROR_LINE.match(line.strip())]
    if errors:
        status.state, status.detail = "failed", errors[-1][:160]
        return status
    if not state:
        return status
    if state.get("eta_s") is not None and state.get("t") is not None:
        status.eta_s = max(0.0, state["eta_s"] - (now - state["t"]))
    running = alive(start)
    status.state = "stopped" if running is False else "running"
    if running is False:
        status.eta_s = None
        status.detail = "process gone, no error in the log (killed?)"
    return status


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _process_alive(start: dict) -> bool | None:
    pid, host = start.get("pid"), start.get("host")
    if not pid or host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return None
    return True


def project_status(directory: str | Path, *, now: float | None = None, alive=None) -> list[JobStatus]:
    """One :class:`JobStatus` per training log under ``directory/logs/train`` (any depth: a log per
    experiment, or per experiment and replicate), plus a 'not started' row for every experiment of
    ``directory/config/config.yaml`` without a log."""
    root = Path(directory) / "logs" / "train"
    rows = []
    for path in sorted(root.rglob("*.log")) if root.is_dir() else []:
        parts = path.relative_to(root).with_suffix("").parts
        experiment = parts[0]
        replicate = "/".join(parts[1:]) if len(parts) > 1 else ""
        replicate = re.sub(r"^rep(?=\d+$)", "", replicate)
        rows.append(read_log(path, now=now, alive=alive, experiment=experiment, replicate=replicate))
    seen = {row.experiment for row in rows}
    for name in _configured_experiments(Path(directory)):
        if name not in seen:
            rows.append(JobStatus(name, "", "not started"))
    return rows


def _configured_experiments(directory: Path) -> list[str]:
    config = directory / "config" / "config.yaml"
    if not config.is_file():
        return []
    from biodl.errors import UserError
    from biodl.spec import load_config

    try:
        return list(load_config(config).experiments)
    except UserError:
        return []  # status reports logs; `biodl check` is where a broken config is explained


def format_status(rows: list[JobStatus]) -> str:
    """A fixed-width table, one line per training job."""
    header = ("experiment", "rep", "fit", "epoch", "best valid", "state", "eta")
    table = [header]
    for r in rows:
        fit = f"{r.fit}/{r.fits}" if r.fit is not None and r.fits else ""
        epoch = f"{r.epoch}/{r.epochs}" if r.epoch is not None and r.epochs else ""
        best = f"{r.monitor} {_number(r.best)}" if r.monitor else ""
        eta = duration(r.eta_s) if r.state == "running" and r.eta_s is not None else ""
        state = f"{r.state}: {r.detail}" if r.detail else r.state
        if r.state == "finished" and r.elapsed_s is not None:
            state = f"finished in {duration(r.elapsed_s)}"
        table.append((r.experiment, r.replicate or "-", fit, epoch, best, state, eta))
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return "".join(("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1]).rstrip() + "\n"
                   for row in table)


__all__ = ["RECORD", "JobStatus", "NoProgress", "TrainProgress", "duration", "format_status", "project_status",
           "read_log"]
