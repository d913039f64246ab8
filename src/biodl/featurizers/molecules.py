"""Molecule featurizers: ECFP / Morgan fingerprints, RDKit 2D descriptors, SMILES tokens.

Inputs are SMILES strings. Every featurizer parses with RDKit; an input RDKit cannot turn into a
molecule is a reject whose reason is RDKit's own diagnosis (syntax error, valence problem, ...).
With ``meta=True`` each kept row also gets its canonical SMILES, Bemis–Murcko scaffold (the group
key for scaffold splits) and fragment count (salts and mixtures are kept, but visible).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

import numpy as np

from biodl.featurizers.base import FeaturizeResult, Featurizer, Reject
from biodl.featurizers.registry import register
from biodl.encodings import BOS, EOS, PAD, SPECIAL_TOKENS, UNK  # noqa: F401
from biodl.registry import Choices, Interval

META_COLUMNS = ("canonical_smiles", "scaffold", "n_fragments")


def parse_smiles(smiles: Any):
    """Return ``(mol, None)`` or ``(None, reason)``. Never raises."""
    from rdkit import Chem

    if not isinstance(smiles, str):
        return None, "missing SMILES"
    if not smiles.strip():
        return None, "empty SMILES"
    mol = Chem.MolFromSmiles(smiles)
    if mol is not None:
        if mol.GetNumAtoms() == 0:
            return None, "SMILES has no atoms"
        return mol, None
    return None, _diagnose(smiles)


def _diagnose(smiles: str) -> str:
    from rdkit import Chem

    raw = Chem.MolFromSmiles(smiles, sanitize=False)
    if raw is None:
        return "invalid SMILES syntax"
    problems = Chem.DetectChemistryProblems(raw)
    if problems:
        return f"RDKit sanitization failed: {problems[0].Message()}"
    return "RDKit sanitization failed"


def describe_mol(mol) -> tuple[str, str, int]:
    """Canonical SMILES, Bemis–Murcko scaffold SMILES ('' if acyclic), number of fragments."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    canonical = Chem.MolToSmiles(mol)
    try:
        scaffold = MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
    except (ValueError, RuntimeError):  # exotic valences can fail after fragmenting
        scaffold = ""
    return canonical, scaffold, canonical.count(".") + 1


class MoleculeFeaturizer(Featurizer):
    """Shared loop: parse each SMILES, compute features, collect rejects and meta."""

    modality = "molecule"

    def _features(self, mol) -> np.ndarray | str:
        """Feature row for one molecule, or a reject reason."""
        raise NotImplementedError

    def _featurize_chunk(self, inputs: list, *, offset: int, meta: bool) -> FeaturizeResult:
        from rdkit import RDLogger

        RDLogger.DisableLog("rdApp.*")  # reasons go into rejects.csv, not onto the terminal
        rows, kept, rejects = [], [], []
        cols: dict[str, list] = {c: [] for c in META_COLUMNS} if meta else {}
        for i, smiles in enumerate(inputs):
            mol, reason = parse_smiles(smiles)
            if mol is not None:
                row = self._features(mol)
                if isinstance(row, str):
                    mol, reason = None, row
            if mol is None:
                rejects.append(Reject(offset + i, "" if smiles is None else str(smiles), reason))
                continue
            rows.append(row)
            kept.append(offset + i)
            if meta:
                for col, value in zip(META_COLUMNS, describe_mol(mol)):
                    cols[col].append(value)
        X = np.stack(rows) if rows else self._empty_X()
        return FeaturizeResult(X=X, kept=np.asarray(kept, np.int64), rejects=rejects, meta=cols)


_GENERATORS: dict[tuple, Any] = {}


@register
class ECFP(MoleculeFeaturizer):
    """Extended-connectivity (Morgan) fingerprints via RDKit's MorganGenerator.

    Output ``X``: uint8 (N, n_bits) — bits 0/1, or counts clipped at 255 when ``counts=True``.
    ``radius=2`` is ECFP4.
    """

    name = "ecfp"
    layout = "vector"
    param_constraints = {"radius": Interval(0, 8), "n_bits": Interval(1, 1 << 24)}

    def __init__(self, radius: int = 2, n_bits: int = 2048, counts: bool = False, chirality: bool = False,
                 n_jobs: int | None = 1):
        super().__init__(n_jobs)
        self.radius, self.n_bits, self.counts, self.chirality = radius, n_bits, counts, chirality

    def _generator(self):
        key = (self.radius, self.n_bits, self.chirality)
        if key not in _GENERATORS:  # generators are not picklable: one per process, built on demand
            from rdkit.Chem import rdFingerprintGenerator

            _GENERATORS[key] = rdFingerprintGenerator.GetMorganGenerator(
                radius=self.radius, fpSize=self.n_bits, includeChirality=self.chirality)
        return _GENERATORS[key]

    def _featurize_chunk(self, inputs: list, *, offset: int, meta: bool) -> FeaturizeResult:
        gen = self._generator()
        if self.counts:
            self._fp = lambda mol: np.minimum(gen.GetCountFingerprintAsNumPy(mol), 255).astype(np.uint8)
        else:
            self._fp = gen.GetFingerprintAsNumPy
        try:
            return super()._featurize_chunk(inputs, offset=offset, meta=meta)
        finally:
            del self._fp

    def _features(self, mol) -> np.ndarray:
        return self._fp(mol)

    # bits travel from worker processes packed 8 to a byte: inter-process transfer was a third of
    # the parallel run time for 2048-bit fingerprints
    def _pack(self, X: np.ndarray) -> np.ndarray:
        return X if self.counts else np.packbits(X, axis=1)

    def _unpack(self, X: np.ndarray) -> np.ndarray:
        return X if self.counts else np.unpackbits(X, axis=1, count=self.n_bits)

    def _empty_X(self) -> np.ndarray:
        return np.zeros((0, self.n_bits), np.uint8)

    def feature_names(self) -> list[str]:
        return [f"{'count' if self.counts else 'bit'}_{i}" for i in range(self.n_bits)]


@register
class RDKitDescriptors(MoleculeFeaturizer):
    """RDKit 2D descriptors (all of ``rdkit.Chem.Descriptors._descList`` by default).

    Output ``X``: float32 (N, D). A descriptor that errors, is infinite, NaN or outside float32
    range is stored as NaN and named in the row's ``nonfinite`` meta column; models impute it from
    training-split statistics. ``nonfinite="reject"`` rejects such molecules instead.
    """

    name = "rdkit_descriptors"
    layout = "vector"
    param_constraints = {"nonfinite": Choices("nan", "reject")}
    chunk_size = 500

    def __init__(self, descriptors: list[str] | None = None, nonfinite: str = "nan", n_jobs: int | None = 1):
        super().__init__(n_jobs)
        if nonfinite not in ("nan", "reject"):
            raise ValueError(f"nonfinite must be 'nan' or 'reject', not {nonfinite!r}")
        self.descriptors, self.nonfinite = descriptors, nonfinite

    def feature_names(self) -> list[str]:
        from rdkit.Chem import Descriptors

        available = [name for name, _ in Descriptors._descList]
        if self.descriptors is None:
            return available
        unknown = sorted(set(self.descriptors) - set(available))
        if unknown:
            raise ValueError(f"unknown RDKit descriptors: {', '.join(unknown)}")
        return list(self.descriptors)

    def _featurize_chunk(self, inputs: list, *, offset: int, meta: bool) -> FeaturizeResult:
        self._functions = descriptor_functions(self.feature_names())
        self._nonfinite_rows: list[str] = []
        try:
            result = super()._featurize_chunk(inputs, offset=offset, meta=meta)
        finally:
            del self._functions
        if meta:
            result.meta["nonfinite"] = self._nonfinite_rows
        del self._nonfinite_rows
        return result

    def _features(self, mol) -> np.ndarray | str:
        values, names = descriptor_row(mol, self._functions)
        if names and self.nonfinite == "reject":
            return f"non-finite descriptors: {names}"
        self._nonfinite_rows.append(names)
        return values

    def _empty_X(self) -> np.ndarray:
        return np.zeros((0, len(self.feature_names())), np.float32)


def descriptor_functions(names: Sequence[str] | None = None) -> list[tuple[str, Any]]:
    """``(name, function)`` of RDKit's 2D descriptors (all of ``Descriptors._descList`` when None)."""
    from rdkit.Chem import Descriptors

    table = dict(Descriptors._descList)
    return [(name, table[name]) for name in (names if names is not None else table)]


def descriptor_row(mol, functions: list[tuple[str, Any]]) -> tuple[np.ndarray, str]:
    """float32 (D,) descriptor values of one molecule, NaN where a descriptor errors, is not finite
    or is outside float32's range, and the ';'-joined names of those ('' when none)."""
    values = np.empty(len(functions), np.float64)
    for j, (_, fn) in enumerate(functions):
        try:
            values[j] = fn(mol)
        except Exception:  # noqa: BLE001 — RDKit raises many types; recorded as non-finite
            values[j] = np.nan
    bad = ~np.isfinite(values) | (np.abs(values) > np.finfo(np.float32).max)
    values[bad] = np.nan
    return values.astype(np.float32), ";".join(functions[j][0] for j in np.flatnonzero(bad))


# Schwaller et al. (2019) Molecular Transformer tokenizer: bracket atoms, two-letter halogens,
# ring-bond labels above 9 (%nn) and every bond / branch symbol are single tokens.
SMILES_TOKEN_RE = re.compile(
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])"
)


def tokenize_smiles(smiles: str) -> list[str] | None:
    """Split SMILES into tokens; ``None`` if some characters are not SMILES tokens."""
    tokens = SMILES_TOKEN_RE.findall(smiles)
    return tokens if "".join(tokens) == smiles else None


@register
class SmilesTokens(Featurizer):
    """Integer token codes of (canonical) SMILES, for RNNs.

    Output ``X``: uint8 (or uint16 for vocabularies over 256) (N, max_length), left-aligned,
    ``<bos> tokens <eos>`` then ``<pad>`` (0). The vocabulary and length are learned by ``fit`` when
    not given and then become part of ``params``, so a saved model re-featurizes identically;
    unseen tokens map to ``<unk>``. A SMILES longer than ``max_length`` is rejected, not truncated.
    """

    name = "smiles_tokens"
    layout = "tokens"
    modality = "molecule"
    param_constraints = {"max_length": Interval(1, 100_000)}

    def __init__(self, vocabulary: list[str] | None = None, max_length: int | None = None,
                 canonical: bool = True, n_jobs: int | None = 1):
        super().__init__(n_jobs)
        self.vocabulary, self.max_length, self.canonical = vocabulary, max_length, canonical

    def _tokens(self, smiles: Any) -> list[str] | str:
        mol, reason = parse_smiles(smiles)
        if mol is None:
            return reason
        if self.canonical:
            from rdkit import Chem

            smiles = Chem.MolToSmiles(mol)
        tokens = tokenize_smiles(smiles)
        return tokens if tokens is not None else "SMILES has characters outside the token grammar"

    def fit(self, inputs: Sequence[Any]) -> "SmilesTokens":
        if self.vocabulary is not None and self.max_length is not None:
            return self
        from rdkit import RDLogger

        RDLogger.DisableLog("rdApp.*")
        token_lists = [t for t in map(self._tokens, inputs) if not isinstance(t, str)]
        if self.vocabulary is None:
            counts = Counter(tok for toks in token_lists for tok in toks)
            # frequency then token: deterministic whatever the input order
            learned = sorted(counts, key=lambda tok: (-counts[tok], tok))
            self.vocabulary = list(SPECIAL_TOKENS) + learned
        if self.max_length is None:
            self.max_length = max((len(t) for t in token_lists), default=0) + 2
        return self

    def _dtype(self):
        return np.uint8 if len(self.vocabulary) <= 256 else np.uint16

    def _featurize_chunk(self, inputs: list, *, offset: int, meta: bool) -> FeaturizeResult:
        from rdkit import Chem, RDLogger

        RDLogger.DisableLog("rdApp.*")
        index = {tok: i for i, tok in enumerate(self.vocabulary)}
        X = np.full((len(inputs), self.max_length), PAD, self._dtype())
        kept, rejects = [], []
        cols: dict[str, list] = {c: [] for c in (*META_COLUMNS, "n_tokens")} if meta else {}
        for i, smiles in enumerate(inputs):
            tokens = self._tokens(smiles)
            if not isinstance(tokens, str) and len(tokens) + 2 > self.max_length:
                tokens = f"{len(tokens)} tokens exceed max_length {self.max_length} (with <bos>/<eos>)"
            if isinstance(tokens, str):
                rejects.append(Reject(offset + i, "" if smiles is None else str(smiles), tokens))
                continue
            codes = [BOS, *(index.get(tok, UNK) for tok in tokens), EOS]
            X[len(kept), : len(codes)] = codes
            kept.append(offset + i)
            if meta:
                for col, value in zip(META_COLUMNS, describe_mol(Chem.MolFromSmiles(smiles))):
                    cols[col].append(value)
                cols["n_tokens"].append(len(tokens))
        return FeaturizeResult(X=X[: len(kept)], kept=np.asarray(kept, np.int64), rejects=rejects, meta=cols)

    def _empty_X(self) -> np.ndarray:
        return np.zeros((0, self.max_length or 0), self._dtype() if self.vocabulary else np.uint8)
