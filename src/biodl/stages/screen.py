"""Stage: screen a molecule library with a trained model (the book's Ch. 11).

library (CSV / TSV / SMILES / SDF, plain or gzip) → chunks of ``chunk_size`` records → per chunk:
standardize (:class:`biodl.screening.Standardizer`) → structural alerts
(:class:`biodl.screening.AlertFilter`) → the model's own featurizer → predictions with σ
(:func:`biodl.uncertainty.predict_with_uncertainty`) and the applicability domain
(:func:`biodl.domain.assess`) → the acquisition score; every record goes to ``screened.csv`` as its
chunk finishes, and only the best ``top`` candidates are kept between chunks. At the end the
candidates are picked for diversity (MaxMin or Butina) into ``hits.csv``; ``summary.json`` has the
counts (read, rejected by reason, flagged by catalog, predicted, in domain) and the rates.

Memory holds one chunk and the candidates, whatever the library's size; the output is the same
for any chunk size (tested). A bad record is a row with its reason, never a stopped screen.
``n_jobs`` worker processes screen chunks side by side and the rows are still written in library
order; ``shard=(i, n)`` takes every n-th chunk from chunk i, for separate jobs whose
outputs :func:`gather_screens` merges — both give the one-process files byte for byte (tested).
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from biodl.errors import UserError

SMILES_SUFFIXES = (".smi", ".smiles", ".txt")
COLUMNS = ["id", "input", "smiles", "reject_reason", "alerts", "passes_filters", "prediction", "sigma",
           "max_tanimoto", "in_domain", "score"]


def _open(path: Path, mode: str = "rt"):
    return gzip.open(path, mode) if path.suffix == ".gz" else open(path, mode)


def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in (".csv", ".tsv"):
        return last[1:]
    if last in SMILES_SUFFIXES:
        return "smiles"
    if last in (".sdf", ".sd"):
        return "sdf"
    raise UserError(f"{path}: cannot tell the library's format from its name (.csv, .tsv, .smi, .sdf, each "
                    "optionally .gz)")


def read_library(path: str | Path, *, smiles_col: str | None = None, id_col: str | None = None,
                 chunk_size: int = 10_000) -> Iterator[pd.DataFrame]:
    """Chunks of the library as DataFrames with ``id`` and ``input`` (SMILES; an SDF record that
    RDKit cannot read has input "" and ``reason``). The file and its columns are checked before the
    first chunk is returned."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: library file not found")
    kind = _kind(path)
    if kind in ("csv", "tsv"):
        return _table_chunks(path, "," if kind == "csv" else "\t", smiles_col, id_col, chunk_size)
    if kind == "smiles":
        return _smiles_chunks(path, chunk_size)
    return _sdf_chunks(path, id_col, chunk_size)


def _table_chunks(path, sep, smiles_col, id_col, chunk_size):
    header = pd.read_csv(path, sep=sep, nrows=0).columns.tolist()
    if smiles_col is None:
        smiles_col = next((c for c in header if c.lower() in ("smiles", "canonical_smiles", "smi")), None)
        if smiles_col is None:
            raise UserError(f"{path}: no SMILES column (looked for smiles, canonical_smiles, smi; columns: "
                            f"{', '.join(header[:20])}); give --smiles-col")
    for name, what in ((smiles_col, "--smiles-col"), (id_col, "--id-col")):
        if name is not None and name not in header:
            raise UserError(f"{path}: no column {name!r} ({what}; columns: {', '.join(header[:20])})")

    def chunks():
        start = 0
        for frame in pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, chunksize=chunk_size,
                                 usecols=[c for c in (smiles_col, id_col) if c is not None]):
            ids = frame[id_col] if id_col else [f"{start + i + 1}" for i in range(len(frame))]
            yield pd.DataFrame({"id": list(ids), "input": frame[smiles_col].tolist(), "reason": ""})
            start += len(frame)

    return chunks()


def _batched(records, chunk_size: int) -> Iterator[pd.DataFrame]:
    """(id, input, reason) records → DataFrames of ``chunk_size`` rows."""
    rows = []
    for record in records:
        rows.append(record)
        if len(rows) == chunk_size:
            yield pd.DataFrame(rows, columns=["id", "input", "reason"])
            rows = []
    if rows:
        yield pd.DataFrame(rows, columns=["id", "input", "reason"])


def _smiles_chunks(path, chunk_size):
    def records():
        with _open(path) as handle:
            for number, line in enumerate(handle, start=1):
                parts = line.strip().split(None, 1)
                if parts:  # blank lines are not records
                    yield (parts[1] if len(parts) > 1 else str(number), parts[0], "")

    return _batched(records(), chunk_size)


def _sdf_chunks(path, id_col, chunk_size):
    from rdkit import Chem, RDLogger

    def records():
        RDLogger.DisableLog("rdApp.*")
        with _open(path, "rb") as handle:
            for number, mol in enumerate(Chem.ForwardSDMolSupplier(handle), start=1):
                if mol is None:
                    yield (str(number), "", "unreadable SDF record")
                    continue
                name = mol.GetProp(id_col) if id_col and mol.HasProp(id_col) else mol.GetProp("_Name")
                yield (name or str(number), Chem.MolToSmiles(mol), "")

    return _batched(records(), chunk_size)


def screen_library(model_path: str | Path, library: str | Path, out: str | Path, *, smiles_col: str | None = None,
                   id_col: str | None = None, task: str | None = None, catalogs: list[str] | None = None,
                   tautomer: bool = False,
                   acquisition: str = "score", beta: float = 1.0, greater: bool = True, top: int = 1000,
                   picks: int = 100, pick_method: str = "maxmin", in_domain_only: bool = False,
                   chunk_size: int = 10_000, seed: int = 0, progress: bool = True,
                   shard: tuple[int, int] | None = None, n_jobs: int = 1) -> dict:
    """Screen ``library`` with the model at ``model_path`` into the directory ``out``
    (``screened.csv``, ``candidates.csv``, ``hits.csv``, ``summary.json``). Returns the summary.
    ``catalogs``: alert catalog names (default PAINS, Brenk, Inpharmatica; ``[]``: no alerts).

    ``shard=(i, n)``: screen only chunks i, i + n, i + 2n, … and write no hits; :func:`gather_screens`
    joins the n shard folders into what one unsharded screen writes (tested byte for byte).

    ``n_jobs > 1``: chunks are screened in that many worker processes (one torch thread each), at
    most two chunks per worker in flight, and written in library order: the same files as one
    process (tested)."""
    from biodl.io import atomic_dir
    from biodl.screening import DEFAULT_CATALOGS, AlertFilter, Standardizer
    from biodl.train import TrainedModel

    if chunk_size < 1 or top < 1 or picks < 0:
        raise UserError("screen: chunk_size and top must be >= 1, picks >= 0")
    if picks > top:
        raise UserError(f"screen: {picks} picks from {top} candidates: raise --top or lower --picks")
    if acquisition not in ("score", "ucb") or pick_method not in ("maxmin", "butina"):
        raise UserError("screen: acquisition is score or ucb, the pick method maxmin or butina")
    index, n_shards = shard or (0, 1)
    if not 0 <= index < n_shards:
        raise UserError(f"screen: shard {index} of {n_shards} does not exist (shards are 0..{n_shards - 1})")
    model = TrainedModel.load(model_path)
    if (model.featurizer_spec or {}).get("type") not in ("ecfp", "rdkit_descriptors", "molgraph", "smiles_tokens"):
        raise UserError(f"{model_path}: a screen needs a molecule model (its features: "
                        f"{(model.featurizer_spec or {}).get('type')})")
    if getattr(model.task, "class_rows", False):
        raise UserError(f"{model_path}: screening ranks one output; a {model.task_type} model has one per class")
    target = 0 if task is None else _task_index(model, task, model_path)
    try:
        alerts = AlertFilter(DEFAULT_CATALOGS if catalogs is None else catalogs)
    except ValueError as exc:
        raise UserError(f"screen: {exc}") from None
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")  # every reason RDKit logs is in the record's reject_reason
    chunks = read_library(library, smiles_col=smiles_col, id_col=id_col, chunk_size=chunk_size)
    counts = {"read": 0, "rejected": {}, "flagged": {name: 0 for name in alerts.catalogs}, "passed_filters": 0,
              "predicted": 0, "in_domain": 0}
    screener = _ChunkScreener(model, target, Standardizer(tautomer=tautomer), alerts, acquisition, beta, greater)
    candidates = pd.DataFrame(columns=[*COLUMNS, "order"])
    started = time.perf_counter()
    settings = {"model": str(model_path), "library": str(library), "task": model.tasks[target],
                "acquisition": acquisition, "beta": beta if acquisition == "ucb" else None, "greater": greater,
                "catalogs": alerts.catalogs, "tautomer": tautomer, "in_domain_only": in_domain_only, "top": top,
                "chunk_size": chunk_size}
    with atomic_dir(out) as tmp:
        screened = tmp / "screened.csv"
        pd.DataFrame(columns=COLUMNS).to_csv(screened, index=False)
        bar = _progress(progress)
        mine = ((number, chunk) for number, chunk in enumerate(chunks) if number % n_shards == index)
        for number, frame, chunk_counts in _screen_chunks(screener, mine, model_path, n_jobs):
            counts = _sum_counts([counts, chunk_counts])
            frame.to_csv(screened, mode="a", header=False, index=False, columns=COLUMNS)
            eligible = frame["passes_filters"] & np.isfinite(frame["score"].to_numpy(np.float64))
            if in_domain_only:
                eligible &= frame["in_domain"].fillna(False).astype(bool)
            # the record's place in the whole library (every chunk but the last is full)
            order = number * chunk_size + np.arange(len(frame))
            chosen = frame[eligible].assign(order=order[eligible])
            candidates = _best(pd.concat([candidates, chosen], ignore_index=True) if len(candidates) else chosen, top)
            if bar is not None:
                bar.update(len(frame))
        if bar is not None:
            bar.close()
        if counts["read"] == 0 and index == 0:  # shard 0 holds the first chunk of any non-empty library
            raise UserError(f"{library}: no records")
        candidates.to_csv(tmp / "candidates.csv", index=False)
        seconds = time.perf_counter() - started
        summary = {**settings, "shard": [index, n_shards], "counts": {**counts, "candidates": len(candidates)},
                   "seconds": round(seconds, 2),
                   "records_per_s": round(counts["read"] / seconds, 1) if seconds else None}
        if shard is None:
            summary.update(_finish(tmp, _read_candidates(tmp / "candidates.csv"), picks, pick_method, seed))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _read_candidates(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"id": str, "input": str, "smiles": str,
                                                                         "alerts": str, "reject_reason": str})


def _finish(tmp: Path, candidates: pd.DataFrame, picks: int, pick_method: str, seed: int) -> dict:
    """Diverse picks of the candidates → ``hits.csv``; the summary's part about them."""
    hits = _pick(candidates, picks, pick_method, seed)
    hits.to_csv(tmp / "hits.csv", index=False)
    return {"picks": picks, "pick_method": pick_method, "seed": seed, "hits": len(hits)}


def gather_screens(shard_dirs: list[str | Path], out: str | Path, *, picks: int = 100, pick_method: str = "maxmin",
                   seed: int = 0) -> dict:
    """Join the folders of ``screen_library(..., shard=(i, n))`` for i = 0..n−1 into one screen's
    output: ``screened.csv`` in library order (the shards' chunks interleaved, read one chunk at a
    time), the best candidates of all shards, the picks, the summed counts."""
    from biodl.io import atomic_dir

    summaries = []
    for folder in map(Path, shard_dirs):
        path = folder / "summary.json"
        if not path.is_file():
            raise UserError(f"{folder}: not a finished screen shard (no summary.json)")
        summaries.append(json.loads(path.read_text()))
    n = summaries[0]["shard"][1]
    by_index = {s["shard"][0]: (Path(d), s) for d, s in zip(shard_dirs, summaries)}
    missing = sorted(set(range(n)) - set(by_index))
    if missing or len(summaries) != n or any(s["shard"][1] != n for s in summaries):
        raise UserError(f"gather: {len(summaries)} folders for {n} shards (missing: "
                        f"{', '.join(map(str, missing)) or 'none'}; each shard once)")
    keys = [k for k in summaries[0] if k not in ("shard", "counts", "seconds", "records_per_s")]
    for s in summaries[1:]:
        differing = [k for k in keys if s.get(k) != summaries[0].get(k)]
        if differing:
            raise UserError(f"gather: shard {s['shard'][0]} was screened with other settings ({', '.join(differing)})")
    if picks > summaries[0]["top"]:
        raise UserError(f"gather: {picks} picks from {summaries[0]['top']} candidates: lower --picks")
    folders = [by_index[i][0] for i in range(n)]
    chunk_size = summaries[0]["chunk_size"]
    with atomic_dir(out) as tmp:
        readers = [pd.read_csv(f / "screened.csv", dtype=str, keep_default_na=False, chunksize=chunk_size)
                   for f in folders]
        pd.DataFrame(columns=COLUMNS).to_csv(tmp / "screened.csv", index=False)
        number = 0
        while True:  # chunk k of the library is shard k mod n's next chunk
            frame = next(readers[number % n], None)
            if frame is None or len(frame) == 0:  # a shard with no chunk left (pandas yields one empty frame)
                break
            frame.to_csv(tmp / "screened.csv", mode="a", header=False, index=False)
            number += 1
        merged = pd.concat([_read_candidates(f / "candidates.csv") for f in folders], ignore_index=True)
        candidates = _best(merged, summaries[0]["top"])
        candidates.to_csv(tmp / "candidates.csv", index=False)
        counts = _sum_counts([s["counts"] for s in summaries])
        summary = {**{k: summaries[0][k] for k in keys}, "shard": [0, 1], "shards": n,
                   "counts": {**counts, "candidates": len(candidates)},
                   "seconds": round(sum(s["seconds"] for s in summaries), 2)}
        summary.update(_finish(tmp, _read_candidates(tmp / "candidates.csv"), picks, pick_method, seed))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _sum_counts(parts: list[dict]) -> dict:
    out: dict = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                inner = out.setdefault(key, {})
                for k, v in value.items():
                    inner[k] = inner.get(k, 0) + v
            elif key != "candidates":
                out[key] = out.get(key, 0) + value
    return out


def _task_index(model, task: str, where) -> int:
    if task not in model.tasks:
        raise UserError(f"{where}: the model predicts {', '.join(model.tasks)}, not {task!r}")
    return model.tasks.index(task)


def _progress(enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(unit=" molecules", unit_scale=True, desc="screen", mininterval=2.0)


class _ChunkScreener:
    """Screens one chunk: standardize, alerts, the model's featurizer, predictions with σ, the
    applicability domain, the acquisition score. Picklable, so worker processes get a copy."""

    def __init__(self, model, target: int, standardizer, alerts, acquisition: str, beta: float, greater: bool):
        self.model, self.target, self.standardizer, self.alerts = model, target, standardizer, alerts
        self.acquisition, self.beta, self.greater = acquisition, beta, greater

    def __call__(self, chunk: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
        """(the chunk's rows of screened.csv, its counts)."""
        from biodl.domain import assess
        from biodl.featurizers import make_featurizer
        from biodl.graphs import in_memory
        from biodl.screening import acquisition as score_of
        from biodl.uncertainty import predict_with_uncertainty

        model, target, alerts = self.model, self.target, self.alerts
        n = len(chunk)
        counts = {"read": n, "rejected": {}, "flagged": {name: 0 for name in alerts.catalogs}, "passed_filters": 0,
                  "predicted": 0, "in_domain": 0}
        reasons = chunk["reason"].tolist()
        smiles, mols, flagged = [""] * n, [None] * n, [""] * n
        for i, text in enumerate(chunk["input"]):
            if reasons[i]:
                continue
            result = self.standardizer.standardize(text)
            if result.mol is None:
                reasons[i] = result.reason
                continue
            smiles[i], mols[i] = result.smiles, result.mol
            found = alerts.alerts(result.mol)
            for name in dict.fromkeys(c for c, _ in found):
                counts["flagged"][name] += 1
            flagged[i] = "; ".join(f"{c}: {d}" for c, d in found)
        ok = np.array([m is not None for m in mols])
        rows = np.flatnonzero(ok)
        prediction, sigma = np.full(n, np.nan), np.full(n, np.nan)
        if len(rows):
            featurized = make_featurizer(model.featurizer_spec).featurize([smiles[i] for i in rows], meta=False)
            for reject in featurized.rejects:
                reasons[rows[reject.index]] = f"featurize: {reject.reason}"
            kept = rows[featurized.kept]
            if len(kept):
                # MC dropout reseeds for every call: a chunk gets the same masks in any shard or worker
                out = predict_with_uncertainty(model, in_memory(featurized.X))
                prediction[kept] = np.asarray(out["pred"], np.float64)[:, target]
                if out.get("sigma") is not None:
                    sigma[kept] = np.asarray(out["sigma"], np.float64)[:, target]
                counts["predicted"] += len(kept)
        domain = assess(model.domain, [s or None for s in smiles]) if model.domain else {}
        in_domain = pd.array(domain["in_domain"], dtype="boolean") if "in_domain" in domain \
            else pd.array([pd.NA] * n, dtype="boolean")
        predicted = np.isfinite(prediction)
        if self.acquisition == "ucb" and predicted.any() and not np.isfinite(sigma[predicted]).all():
            raise UserError("screen: acquisition ucb needs the model's σ (train it with uncertainty: ensemble, "
                            "mc_dropout or a variance head)")
        score = np.full(n, np.nan)
        if predicted.any():
            score[predicted] = score_of(prediction[predicted], sigma[predicted] if self.acquisition == "ucb" else None,
                                        method=self.acquisition, beta=self.beta, greater=self.greater)
        for reason in reasons:
            if reason:  # counted by kind (the text before the details: atom numbers, SMILES)
                key = reason.split(":")[0].split(" (")[0]
                counts["rejected"][key] = counts["rejected"].get(key, 0) + 1
        clean = ok & np.array([not f for f in flagged], bool)
        counts["passed_filters"] = int(clean.sum())
        counts["in_domain"] = int(np.asarray(in_domain.fillna(False), bool).sum())
        frame = pd.DataFrame({"id": chunk["id"].tolist(), "input": chunk["input"].tolist(), "smiles": smiles,
                              "reject_reason": reasons, "alerts": flagged, "passes_filters": clean & predicted,
                              "prediction": prediction, "sigma": sigma,
                              "max_tanimoto": domain.get("max_tanimoto", np.full(n, np.nan)),
                              "in_domain": in_domain, "score": score})
        return frame, counts


_WORKER_SCREENER: _ChunkScreener | None = None


def _start_worker(screener: _ChunkScreener) -> None:
    import torch

    global _WORKER_SCREENER
    torch.set_num_threads(1)  # n_jobs processes share the cores; the rule's thread budget is theirs
    _WORKER_SCREENER = screener


def _screen_in_worker(number: int, chunk: pd.DataFrame):
    return (number, *_WORKER_SCREENER(chunk))


def _screen_chunks(screener: _ChunkScreener, numbered_chunks, where, n_jobs: int):
    """(chunk number, screened rows, counts) for each (number, chunk), in the chunks' order; with
    ``n_jobs > 1`` in worker processes, at most 2 × n_jobs chunks read ahead, so memory holds a few
    chunks whatever the library's size."""
    from collections import deque

    if n_jobs <= 1:
        for number, chunk in numbered_chunks:
            yield (number, *screener(chunk))
        return
    import multiprocessing as mp

    # torch is loaded (the model): fork would copy its thread pools' locks, so start workers afresh
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(n_jobs, initializer=_start_worker, initargs=(screener,)) as pool:
        pending = deque()
        for number, chunk in numbered_chunks:
            pending.append(pool.apply_async(_screen_in_worker, (number, chunk)))
            if len(pending) >= 2 * n_jobs:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _best(frame: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` rows by score (ties: earlier records first)."""
    ranked = frame.sort_values(["score", "order"], ascending=[False, True], kind="stable")
    return ranked.head(top).reset_index(drop=True)


def _pick(candidates: pd.DataFrame, picks: int, method: str, seed: int) -> pd.DataFrame:
    from rdkit import Chem

    from biodl.screening import diverse_picks

    if len(candidates) == 0 or picks == 0:
        return pd.DataFrame(columns=["pick", "rank", *COLUMNS])
    candidates = candidates.reset_index(drop=True)
    mols = [Chem.MolFromSmiles(s) for s in candidates["smiles"]]
    chosen = diverse_picks(mols, picks, method=method, ranking=candidates["score"].to_numpy(np.float64), seed=seed)
    hits = candidates.iloc[chosen].copy()
    hits.insert(0, "rank", chosen + 1)  # the candidate's rank by score
    hits.insert(0, "pick", np.arange(1, len(hits) + 1))
    return hits.drop(columns=["order"]).reset_index(drop=True)
