"""The featurizer contract shared by every modality.

A featurizer is a small object with ``name``, JSON-able ``params`` and ``featurize(inputs)``.
It never raises for one bad row and never drops one silently: every input index is either in
``kept`` or in ``rejects`` (with a reason).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from biodl.encodings import SequenceBlock


@dataclass(frozen=True)
class Reject:
    """One input that could not be featurized. ``index`` is its position in the inputs."""

    index: int
    input: str
    reason: str


@dataclass
class FeaturizeResult:
    """Output of :meth:`Featurizer.featurize`.

    X:       np.ndarray, first axis aligned with ``kept`` (dtype and trailing shape per featurizer).
    kept:    np.ndarray[int64] of input indices that were featurized, ascending.
    rejects: list of :class:`Reject`, ascending by index.
    meta:    per-kept-row descriptive columns (e.g. canonical SMILES, scaffold), each of len(kept):
             a list or a numpy array.
    """

    X: np.ndarray
    kept: np.ndarray
    rejects: list[Reject]
    meta: dict[str, list] = field(default_factory=dict)

    def check(self, n_inputs: int) -> FeaturizeResult:
        """Assert the accounting invariant: kept + rejected == inputs, no index twice."""
        seen = np.concatenate([self.kept, np.array([r.index for r in self.rejects], dtype=np.int64)])
        # bincount, not unique: a sort of every index costs more than featurizing DNA windows
        if len(seen) != n_inputs or (n_inputs and (seen.min() < 0 or seen.max() >= n_inputs
                                                   or np.bincount(seen, minlength=n_inputs).max() > 1)):
            raise AssertionError(
                f"featurizer lost or duplicated rows: {n_inputs} inputs, {len(self.kept)} kept, "
                f"{len(self.rejects)} rejected"
            )
        if len(self.X) != len(self.kept):
            raise AssertionError(f"X has {len(self.X)} rows but {len(self.kept)} were kept")
        for key, col in self.meta.items():
            if len(col) != len(self.kept):
                raise AssertionError(f"meta column {key!r} has {len(col)} rows, expected {len(self.kept)}")
        return self


def resolve_n_jobs(n_jobs: int | None) -> int:
    """``None``/1 → 1; ``-1`` → all cores available to this process; k>1 → k."""
    if n_jobs is None or n_jobs == 0:
        return 1
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows
        available = os.cpu_count() or 1
    return available if n_jobs < 0 else max(1, min(n_jobs, available))


class Featurizer:
    """Base class. Subclasses set ``name`` and implement ``_featurize_chunk``.

    Parameters are taken in ``__init__`` (scikit-learn style) and exposed by ``params``; ``n_jobs``
    is an execution setting, not part of ``params``, because it never changes the features.
    Work is split into contiguous chunks that run in worker processes when ``n_jobs > 1``;
    the result is identical whatever ``n_jobs`` is.
    """

    name: ClassVar[str]
    #: what the featurizer reads: "molecule" (SMILES), "sequence" (DNA / RNA) or "image"
    modality: ClassVar[str]
    #: what X holds per row, as models read it: "vector" (N, D), "sequence" (N, L) base codes,
    #: "tokens" (N, L) token ids, "image" (N, C, H, W)
    layout: ClassVar[str]
    #: value ranges and choices of the constructor's parameters (biodl.registry.Interval / Choices),
    #: checked with the whole config before any job runs (biodl.spec)
    param_constraints: ClassVar[dict] = {}
    #: inputs per worker task; large enough to amortize inter-process transfer
    chunk_size: ClassVar[int] = 2000
    #: True where ``_featurize_chunk`` takes a :class:`~biodl.encodings.SequenceBlock` (equal-length
    #: sequences as one letter array) as it is; any other featurizer gets a list of strings
    reads_blocks: ClassVar[bool] = False

    def __init__(self, n_jobs: int | None = 1):
        self.n_jobs = n_jobs

    @property
    def params(self) -> dict[str, Any]:
        """JSON-able constructor arguments that define the features (``n_jobs`` excluded)."""
        sig = inspect.signature(type(self).__init__)
        return {
            k: getattr(self, k)
            for k in sig.parameters
            if k not in ("self", "n_jobs") and sig.parameters[k].kind is not inspect.Parameter.VAR_KEYWORD
        }

    def spec(self) -> dict[str, Any]:
        """``{"type": name, **params}`` — enough to rebuild this featurizer with ``make_featurizer``."""
        return {"type": self.name, **self.params}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- work -----------------------------------------------------------------------------------
    def fit(self, inputs: Sequence[Any]) -> Featurizer:
        """Learn data-dependent state (e.g. a token vocabulary). Most featurizers have none."""
        return self

    def featurize(self, inputs: Sequence[Any], *, meta: bool = True,
                  progress: Callable[[int], Any] | None = None) -> FeaturizeResult:
        """Featurize ``inputs`` (a sequence of raw items: SMILES, sequences or image paths).

        ``meta=False`` skips the descriptive columns (canonical form, scaffold, ...) for speed.
        ``progress(n)`` is called with the number of inputs of each chunk as it finishes (e.g. a
        tqdm bar's ``update``); chunks finish in input order, so it never changes the result.
        """
        if not (self.reads_blocks and isinstance(inputs, SequenceBlock)):
            inputs = list(inputs)
        self.fit(inputs)
        n_jobs = resolve_n_jobs(self.n_jobs)
        bounds = self._chunk_bounds(len(inputs), n_jobs)
        chunks = [(inputs[a:b], a, meta) for a, b in bounds]
        if n_jobs > 1 and len(chunks) > 1:
            parts = _map_in_processes(self, chunks, n_jobs, progress)
            for part in parts:
                part.X = self._unpack(part.X)
        else:
            parts = []
            for c, o, m in chunks:
                parts.append(self._featurize_chunk(c, offset=o, meta=m))
                if progress is not None:
                    progress(len(c))
        return self._merge(parts, len(inputs)).check(len(inputs))

    @contextmanager
    def worker_pool(self) -> Iterator[None]:
        """Keep one pool of ``n_jobs`` worker processes for every ``featurize`` call inside the block
        (the streamed blocks of one dataset). Its workers start afresh (forkserver), so they do not
        inherit — and, touching it, copy — the caller's memory, such as a million raw inputs."""
        n_jobs = resolve_n_jobs(self.n_jobs)
        if n_jobs <= 1:
            yield
            return
        import multiprocessing as mp

        methods = mp.get_all_start_methods()
        ctx = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
        with ctx.Pool(processes=n_jobs) as pool:
            self._pool = pool
            try:
                yield
            finally:
                self._pool = None

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_pool"}  # the pool stays with its owner

    def _chunk_bounds(self, n: int, n_jobs: int) -> list[tuple[int, int]]:
        if n == 0:
            return [(0, 0)]
        size = self.chunk_size
        if n_jobs > 1:
            # a few chunks per worker evens out slow molecules without much transfer overhead
            size = max(1, min(size, -(-n // (4 * n_jobs))))
        return [(a, min(a + size, n)) for a in range(0, n, size)]

    def _featurize_chunk(self, inputs: list, *, offset: int, meta: bool) -> FeaturizeResult:
        raise NotImplementedError

    def _empty_X(self) -> np.ndarray:
        """X with zero rows and this featurizer's trailing shape and dtype."""
        raise NotImplementedError

    def _pack(self, X: np.ndarray) -> np.ndarray:
        """Compact X for the trip from a worker process back to the parent (identity by default)."""
        return X

    def _unpack(self, X: np.ndarray) -> np.ndarray:
        """Inverse of ``_pack``."""
        return X

    def _merge(self, parts: list[FeaturizeResult], n: int) -> FeaturizeResult:
        nonempty = [p.X for p in parts if len(p.X)]
        X = np.concatenate(nonempty) if nonempty else self._empty_X()
        kept = np.concatenate([p.kept for p in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)
        rejects = [r for p in parts for r in p.rejects]
        keys = parts[0].meta.keys() if parts else ()
        meta = {k: _concat([p.meta[k] for p in parts]) for k in keys}
        return FeaturizeResult(X=X, kept=kept, rejects=rejects, meta=meta)


def _concat(columns: list):
    """Join one meta column's chunks: lists stay lists, numpy arrays stay arrays."""
    if all(isinstance(c, np.ndarray) for c in columns):
        return np.concatenate(columns)
    return [v for c in columns for v in c]


def _run_chunk(args):
    featurizer, chunk, offset, meta = args
    result = featurizer._featurize_chunk(chunk, offset=offset, meta=meta)
    result.X = featurizer._pack(result.X)
    return result


def _map_in_processes(featurizer: Featurizer, chunks, n_jobs: int,
                      progress: Callable[[int], Any] | None = None) -> list[FeaturizeResult]:
    import multiprocessing as mp
    import sys

    # fork starts workers in milliseconds and shares the already-imported RDKit; it is unsafe
    # once torch has started its thread pools, so fall back to forkserver in that case
    method = "fork" if sys.platform == "linux" and "torch" not in sys.modules else "forkserver"
    if method not in mp.get_all_start_methods():
        method = "spawn"
    ctx = mp.get_context(method)
    parts = []
    shared = getattr(featurizer, "_pool", None)  # Featurizer.worker_pool
    with (nullcontext(shared) if shared is not None else ctx.Pool(processes=n_jobs)) as pool:
        # imap, not map: results arrive (in input order) as chunks finish, so progress can show
        for part, (chunk, _, _) in zip(pool.imap(_run_chunk, [(featurizer, c, o, m) for c, o, m in chunks],
                                                 chunksize=1), chunks):
            parts.append(part)
            if progress is not None:
                progress(len(chunk))
    return parts
