"""Virtual screening building blocks (the book's Ch. 11; issue 15): standardize a library, flag
structural alerts, rank by an acquisition, pick a diverse set.

* :class:`Standardizer` — RDKit MolStandardize: cleanup, the largest organic fragment (salts and
  solvents dropped), charges neutralized, optionally the canonical tautomer; a molecule that fails
  is a reject with its reason, never an exception;
* :class:`AlertFilter` — RDKit FilterCatalog: PAINS (A, B, C), Brenk, the ChEMBL-curated
  Inpharmatica set the book used, and the other catalogs RDKit ships, by name; per molecule the
  names of the alerts it matches;
* :func:`acquisition` — the rank score: the prediction itself, or an upper confidence bound
  (mean + β σ) that favours molecules the model is unsure about;
* :func:`diverse_picks` — RDKit's MaxMin picker on Morgan fingerprints (seeded), or Butina's
  clustering with the best-ranked member of each cluster.

Nothing here holds more than one chunk of molecules: :mod:`biodl.stages.screen` runs these chunk by
chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: biodl's catalog names -> RDKit's FilterCatalogs member
CATALOGS = {
    "pains": "PAINS", "pains_a": "PAINS_A", "pains_b": "PAINS_B", "pains_c": "PAINS_C", "brenk": "BRENK",
    "nih": "NIH", "zinc": "ZINC", "inpharmatica": "CHEMBL_Inpharmatica", "glaxo": "CHEMBL_Glaxo",
    "dundee": "CHEMBL_Dundee", "bms": "CHEMBL_BMS", "mlsmr": "CHEMBL_MLSMR", "lint": "CHEMBL_LINT",
    "surechembl": "CHEMBL_SureChEMBL",
}
#: the default alert sets: PAINS, Brenk and the Inpharmatica set of the book's screen
DEFAULT_CATALOGS = ("pains", "brenk", "inpharmatica")


@dataclass
class Standardized:
    """One input's outcome: the standardized molecule and its canonical SMILES, or a reason."""

    mol: object | None
    smiles: str
    reason: str = ""


class Standardizer:
    """Library molecules → standardized parents: RDKit MolStandardize's cleanup (explicit H removed,
    metals disconnected, functional groups normalized, charges reionized), then

    largest_fragment: keep the largest organic fragment (RDKit's LargestFragmentChooser, organics
    preferred); neutralize: RDKit's Uncharger (acids and bases to their neutral forms where a
    neutral form exists); tautomer: RDKit's canonical tautomer (slow: off by default)."""

    def __init__(self, largest_fragment: bool = True, neutralize: bool = True, tautomer: bool = False):
        self.largest_fragment, self.neutralize, self.tautomer = largest_fragment, neutralize, tautomer

    def __getstate__(self) -> dict:
        # RDKit's tools do not pickle; a worker process builds its own on first use
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def _tools(self):
        from rdkit.Chem.MolStandardize import rdMolStandardize

        if not hasattr(self, "_cache"):
            # Cleanup's steps with their tools built once: rdMolStandardize.Cleanup builds a Normalizer
            # and a Reionizer on every call (0.63 against 0.36 ms a molecule here, bench/screen_speed.py)
            self._cache = (rdMolStandardize.MetalDisconnector(), rdMolStandardize.Normalizer(),
                           rdMolStandardize.Reionizer(), rdMolStandardize.LargestFragmentChooser(preferOrganic=True),
                           rdMolStandardize.Uncharger(),
                           rdMolStandardize.TautomerEnumerator() if self.tautomer else None)
        return self._cache

    def standardize(self, smiles: str) -> Standardized:
        """One SMILES → :class:`Standardized` (``mol`` None and a reason when it cannot be read)."""
        from rdkit import Chem

        from biodl.featurizers.molecules import parse_smiles

        mol, reason = parse_smiles(smiles)
        if mol is None:
            return Standardized(None, "", reason)
        metals, normalizer, reionizer, chooser, uncharger, tautomers = self._tools()
        try:
            mol = reionizer.reionize(normalizer.normalize(metals.Disconnect(Chem.RemoveHs(mol))))
            if self.largest_fragment:
                mol = chooser.choose(mol)
            if self.neutralize:
                mol = uncharger.uncharge(mol)
            if tautomers is not None:
                mol = tautomers.Canonicalize(mol)
            Chem.SanitizeMol(mol)
        except Exception as exc:  # noqa: BLE001 - RDKit raises several types; a bad molecule is a reject, not a stop
            return Standardized(None, "", f"standardization failed: {str(exc).splitlines()[0][:120]}")
        if mol.GetNumAtoms() == 0:
            return Standardized(None, "", "no atoms left after standardization")
        if not any(atom.GetAtomicNum() == 6 for atom in mol.GetAtoms()):
            return Standardized(None, "", f"no organic fragment ({Chem.MolToSmiles(mol)})")
        return Standardized(mol, Chem.MolToSmiles(mol))

    def standardize_many(self, smiles: Iterable[str]) -> list[Standardized]:
        return [self.standardize(s) for s in smiles]


class AlertFilter:
    """Structural alerts from RDKit's FilterCatalog.

    catalogs: names from :data:`CATALOGS` (default PAINS, Brenk, Inpharmatica). ``alerts(mol)``
    returns ``[(catalog, description), ...]`` of every entry the molecule matches."""

    def __init__(self, catalogs: Sequence[str] = DEFAULT_CATALOGS):
        unknown = [c for c in catalogs if c not in CATALOGS]
        if unknown:
            raise ValueError(f"unknown alert catalog(s) {', '.join(unknown)} (known: {', '.join(CATALOGS)})")
        self.catalogs = list(catalogs)  # none: every molecule passes (a screen without alerts)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_built"}  # rebuilt in a worker process

    def _catalogs(self):
        if not hasattr(self, "_built"):
            from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

            built = []
            for name in self.catalogs:
                params = FilterCatalogParams()
                params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, CATALOGS[name]))
                built.append((name, FilterCatalog(params)))
            self._built = built
        return self._built

    def alerts(self, mol) -> list[tuple[str, str]]:
        out = []
        for name, catalog in self._catalogs():
            out += [(name, entry.GetDescription()) for entry in catalog.GetMatches(mol)]
        return out

    def passes(self, mols: Sequence) -> np.ndarray:
        """bool (N,): no alert from any catalog."""
        return np.array([not self.alerts(m) for m in mols], bool)


def acquisition(mean: np.ndarray, sigma: np.ndarray | None = None, *, method: str = "score",
                beta: float = 1.0, greater: bool = True) -> np.ndarray:
    """float64 (N,): what the screen ranks by (larger first). ``score``: the prediction (negated when
    smaller is better, ``greater=False``); ``ucb``: mean + β σ (mean − β σ negated when smaller is
    better), which needs σ."""
    mean = np.asarray(mean, np.float64)
    sign = 1.0 if greater else -1.0
    if method == "score":
        return sign * mean
    if method == "ucb":
        if sigma is None:
            raise ValueError("ucb needs the model's sigma (an experiment with uncertainty)")
        return sign * mean + beta * np.asarray(sigma, np.float64)
    raise ValueError(f"acquisition must be 'score' or 'ucb', got {method!r}")


def _fingerprints(mols: Sequence, radius: int, n_bits: int) -> list:
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    return [gen.GetFingerprint(m) for m in mols]


def diverse_picks(mols: Sequence, n: int, *, method: str = "maxmin", ranking: np.ndarray | None = None,
                  threshold: float = 0.35, seed: int = 0, radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """int64 (≤ n,): indices of a diverse subset of ``mols``.

    ``maxmin``: RDKit's MaxMinPicker on Tanimoto distance of Morgan bits, started at the best-ranked
    molecule when ``ranking`` (larger first) is given, else from ``seed``. ``butina``: Butina
    clusters at Tanimoto distance ``threshold``; from each cluster, largest first, its best-ranked
    member (its centroid without a ranking)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    count = len(mols)
    n = min(n, count)
    if n == 0:
        return np.zeros(0, np.int64)
    fps = _fingerprints(mols, radius, n_bits)
    if method == "maxmin":
        from rdkit.SimDivFilters import MaxMinPicker

        first = [int(np.argmax(ranking))] if ranking is not None else []
        picks = MaxMinPicker().LazyBitVectorPick(fps, count, n, firstPicks=first, seed=seed)
        return np.asarray(list(picks), np.int64)
    if method == "butina":
        from rdkit import DataStructs
        from rdkit.ML.Cluster import Butina

        distances = []
        for i in range(1, count):
            distances.extend(1.0 - np.asarray(DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i])))
        clusters = Butina.ClusterData(distances, count, threshold, isDistData=True)
        clusters = sorted(clusters, key=lambda c: (-len(c), c[0]))
        chosen = [max(c, key=lambda i: (ranking[i], -i)) if ranking is not None else c[0] for c in clusters[:n]]
        return np.asarray(chosen, np.int64)
    raise ValueError(f"method must be 'maxmin' or 'butina', got {method!r}")
