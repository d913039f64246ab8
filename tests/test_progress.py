"""Training progress on the console (biodl train's stdout, which Snakemake shows) and biodl status."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from biodl.progress import RECORD, TrainProgress, duration, format_status, project_status
from tests.conftest import run_cli
from tests.test_init import write_molecule_csv

LINE = re.compile(r"^(?P<name>\S+): fit (?P<k>\d+)/(?P<K>\d+) \((?P<label>[^)]*)\) ")


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    """A small featurized molecule set and a random split of it."""
    tmp = tmp_path_factory.mktemp("progress")
    csv = write_molecule_csv(tmp / "mols.csv")
    code, _, err = run_cli("featurize", csv, "--id-col", "compound_id", "--targets", "logp", "--featurizer",
                           "rdkit_descriptors", "--param", 'descriptors=["MolWt","MolLogP","TPSA","RingCount"]',
                           "-o", tmp / "features")
    assert code == 0, err
    code, _, err = run_cli("split", "--features", tmp / "features", "--spec", '{"method": "random"}', "-o",
                           tmp / "split.json")
    assert code == 0, err
    return tmp


def train(features, out, *extra, epochs=25):
    experiment = {"model": {"type": "mlp", "hidden": [8]}, "train": {"epochs": epochs, "patience": 100},
                  "search": {"space": {"model.dropout": [0.0, 0.1]}},
                  "uncertainty": {"method": "ensemble", "members": 2, "levels": [0.8]}}
    return run_cli("train", "--name", "fs_tiny", "--features", features / "features", "--split",
                   features / "split.json", "--experiment", json.dumps(experiment), "-o", out, *extra)


def test_train_prints_the_first_epoch_each_fit_and_the_end_when_throttled(features, tmp_path):
    # an interval longer than the job: only the lines that always come (first epoch, end of each fit, end)
    code, out, err = train(features, tmp_path / "model", "--progress", "3600", "--verbose")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 + 3 + 1, out  # 2 search trials + 1 more ensemble member = 3 fits
    # no estimate yet: the first epoch also builds the model, so its time says little about the rest
    assert re.match(r"^fs_tiny: fit 1/3 \(trial 0\) epoch 1/25: valid rmse [\d.]+, best [\d.]+ \| \d+s elapsed$",
                    lines[0]), lines[0]
    ends = [LINE.match(line) for line in lines[1:4]]
    assert [(m["k"], m["K"], m["label"]) for m in ends] == [("1", "3", "trial 0"), ("2", "3", "trial 1"),
                                                             ("3", "3", "ensemble member 2 of 2")]
    assert all("done after 25 epochs (epoch budget): best valid rmse" in line for line in lines[1:4])
    assert "left" in lines[1] and "left" not in lines[3]  # nothing is left after the last fit
    assert re.match(r"^fs_tiny: trained in \d+s \(3 fits, selected model's valid rmse [\d.]+\)$", lines[4])
    # every epoch of every fit still goes to the log (stderr), ensemble members included
    assert len(re.findall(r"^epoch +\d+ +train_loss", err, re.MULTILINE)) == 3 * 25
    records = [json.loads(line[len(RECORD):]) for line in err.splitlines() if line.startswith(RECORD)]
    assert [r["event"] for r in records] == ["start", "fit", "epoch", "fit_end", "fit", "fit_end", "fit", "fit_end",
                                             "done"]
    assert records[0]["fits"] == 3 and records[0]["pid"]


def test_train_prints_at_most_one_line_per_interval(features, tmp_path):
    # an interval far below an epoch's time: mid-fit lines whatever the machine's speed (0.05 s let a
    # fast, idle machine finish the fits between two lines)
    code, out, err = train(features, tmp_path / "model", "--progress", "0.0001", epochs=40)
    assert code == 0, err
    epoch_lines = [line for line in out.splitlines() if " epoch " in line and "done after" not in line]
    assert len(epoch_lines) > 3  # this short interval prints mid-fit lines too
    assert all(LINE.match(line) for line in out.splitlines()[:-1])
    assert not [line for line in err.splitlines() if line.startswith(RECORD)]  # records only with --verbose


def test_progress_off_prints_nothing_on_stdout(features, tmp_path):
    code, out, err = train(features, tmp_path / "model", "--progress", "0", epochs=3)
    assert code == 0, err
    assert out == ""


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_left_counts_the_fits_to_come_and_early_stopping():
    clock, out = Clock(), io.StringIO()
    progress = TrainProgress("x", every=5, out=out, clock=clock)
    progress.start(2)
    progress.begin_fit("trial 0")
    state = {"epochs": 100, "monitor": "rmse", "greater": False, "patience": 5, "last": False}
    # one second per epoch; the best epoch is the first, so this fit stops at epoch 6 at the earliest
    etas = []
    for epoch in range(3):
        clock.now += 1
        progress.epoch({**state, "epoch": epoch, "score": 1.0, "best": 1.0, "best_epoch": 0})
        etas.append(progress.eta({**state, "epoch": epoch, "score": 1.0, "best": 1.0, "best_epoch": 0}))
    # after epoch 1 no rate is known (it includes building the model); after epoch 3 of 2 fits:
    # 3 more epochs of this fit + a fit of 6 epochs, at 1 s each
    assert etas[0] is None
    assert etas[2] == pytest.approx(9.0)
    for epoch in range(3, 6):
        clock.now += 1
        progress.epoch({**state, "epoch": epoch, "score": 1.0, "best": 1.0, "best_epoch": 0, "last": epoch == 5})
    progress.begin_fit("trial 1")
    clock.now += 3  # a slow first epoch: building the model; counted once per later fit, not per epoch
    first = {**state, "epoch": 0, "score": 1.0, "best": 1.0, "best_epoch": 0}
    progress.epoch(first)
    assert progress.eta(first) == pytest.approx(5.0)  # the finished fit ran 6 epochs: 5 to go here
    lines = out.getvalue().splitlines()
    # first epoch, the end of fit 1; fit 2's first epoch comes 4 s after the last line: not yet
    assert [line.split(" |")[0] for line in lines] == [
        "x: fit 1/2 (trial 0) epoch 1/100: valid rmse 1, best 1",
        "x: fit 1/2 (trial 0) done after 6 epochs (early stop): best valid rmse 1 at epoch 1"]
    assert lines[0].endswith("| 1s elapsed") and lines[1].endswith("| 6s elapsed, ~6s left")


def test_duration_is_short():
    assert [duration(s) for s in (0, 45.4, 190, 3725, None)] == ["0s", "45s", "3m10s", "1h02m", "?"]


# -- biodl status ---------------------------------------------------------------------------------
def record(**fields) -> str:
    return RECORD + json.dumps({"t": time.time(), **fields})


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_status_reads_every_training_log(features, tmp_path):
    project = tmp_path / "project"
    logs = project / "logs" / "train"
    (logs / "fs_mlp").mkdir(parents=True)
    # a finished job: the log a real `biodl train --verbose` writes
    code, _, err = train(features, tmp_path / "model", "--progress", "3600", "--verbose", epochs=4)
    assert code == 0, err
    (logs / "fs_mlp" / "rep0.log").write_text(err)
    host = socket.gethostname()
    running = [record(event="start", fits=4, pid=os.getpid(), host=host),
               record(event="fit", fit=2, fits=4, label="trial 1"),
               record(event="epoch", fit=2, fits=4, epoch=10, epochs=300, monitor="rmse", greater=False, score=1.2,
                      best=1.1, eta_s=600.0, elapsed_s=100.0),
               "epoch   10  train_loss 0.5000  valid_rmse 1.0500  lr 1.00e-03",
               "epoch   11  train_loss 0.5000  valid_rmse 1.3000  lr 1.00e-03"]
    (logs / "fs_mlp" / "rep1.log").write_text("\n".join(running) + "\n")
    failed = running[:3] + ["Traceback (most recent call last):", '  File "x.py", line 1',
                            "RuntimeError: CUDA out of memory"]
    (logs / "dna_cnn.log").write_text("\n".join(failed) + "\n")
    killed = [record(event="start", fits=1, pid=dead_pid(), host=host), *running[1:3]]
    (logs / "cells_cnn" / "rep0.log").parent.mkdir()
    (logs / "cells_cnn" / "rep0.log").write_text("\n".join(killed) + "\n")
    (project / "config").mkdir()
    (project / "config" / "config.yaml").write_text(
        "featurizers: {d: {type: rdkit_descriptors}}\n"
        "datasets: {m: {source: {format: csv, path: m.csv, targets: [y]}, featurizers: [d],"
        " splits: {r: {method: random}}}}\n"
        "experiments:\n"
        "  fs_mlp: {dataset: m, featurizer: d, split: r, model: {type: mlp}}\n"
        "  later_mlp: {dataset: m, featurizer: d, split: r, model: {type: mlp}}\n")

    rows = {(r.experiment, r.replicate): r for r in project_status(project)}
    assert set(rows) == {("fs_mlp", "0"), ("fs_mlp", "1"), ("dna_cnn", ""), ("cells_cnn", "0"), ("later_mlp", "")}
    done = rows["fs_mlp", "0"]
    assert done.state == "finished" and (done.fit, done.fits) == (3, 3) and done.monitor == "rmse"
    run = rows["fs_mlp", "1"]
    # the epoch lines after the last record move the epoch on; the best is the lower RMSE of the two
    assert run.state == "running" and (run.fit, run.fits, run.epoch, run.epochs) == (2, 4, 12, 300)
    assert run.best == pytest.approx(1.05) and 590 < run.eta_s <= 600
    assert rows["dna_cnn", ""].state == "failed" and "CUDA out of memory" in rows["dna_cnn", ""].detail
    assert rows["cells_cnn", "0"].state == "stopped" and rows["cells_cnn", "0"].eta_s is None
    assert rows["later_mlp", ""].state == "not started"

    code, out, err = run_cli("status", project)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["experiment", "rep", "fit", "epoch", "best", "valid", "state", "eta"]
    table = {tuple(line.split()[:2]): line for line in lines[1:]}
    assert re.search(r"fs_mlp +1 +2/4 +12/300 +rmse 1\.05 +running +(9m5\d|10m00)s", table["fs_mlp", "1"])
    assert re.search(r"fs_mlp +0 +3/3 .*rmse [\d.]+ +finished in \d+s", table["fs_mlp", "0"])
    assert "failed: RuntimeError: CUDA out of memory" in table["dna_cnn", "-"]
    assert "stopped" in table["cells_cnn", "0"] and "later_mlp" in out and "not started" in out


def test_status_of_a_project_without_logs_and_of_no_project(tmp_path):
    code, out, err = run_cli("status", tmp_path)
    assert code == 0 and "no training job has started" in out, err
    code, out, err = run_cli("status", tmp_path / "absent")
    assert code == 2 and err.strip().count("\n") == 0 and "no such project directory" in err


def test_format_status_aligns_columns():
    from biodl.progress import JobStatus

    text = format_status([JobStatus("a", "0", "running", 1, 2, 3, 40, "rmse", 0.5, 61.0),
                          JobStatus("a_long_name", "", "not started")])
    lines = text.splitlines()
    assert lines[1].index("running") == lines[2].index("not started")
    assert lines[1].endswith("1m01s")


def test_a_closed_output_does_not_stop_training():
    out = io.StringIO()
    out.close()  # `biodl train ... | head` after head exits: writing raises
    progress = TrainProgress("x", out=out)
    progress.start(1)
    progress.begin_fit("trial 0")
    progress.epoch({"epoch": 0, "epochs": 2, "monitor": "rmse", "greater": False, "score": 1.0, "best": 1.0,
                    "best_epoch": 0, "patience": 5, "last": False})
    progress.finish("rmse", 1.0)
    assert progress.out is False
