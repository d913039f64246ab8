"""Molecular graphs for message-passing networks: atom and bond codes as flat arrays + offsets.

Output ``X``: a :class:`biodl.graphs.MolGraphs` (codes uint8, one row per atom and per undirected
bond; see that module for the arrays and their on-disk files). The atom codes are Chemprop's
default atom features (atomic number, degree, formal charge, chirality, hydrogens, hybridization,
aromaticity; mass follows from the atomic number) plus ring membership; bond codes are its bond
features (type, conjugation, ring, stereo). ``mol_features: rdkit`` adds RDKit's 2D descriptors
per molecule (float32, NaN where one fails), which the model concatenates before its head.
Rejects and meta columns are those of every molecule featurizer (``biodl.featurizers.molecules``).
"""

from __future__ import annotations

import numpy as np

from biodl.featurizers.base import FeaturizeResult, Featurizer, Reject
from biodl.featurizers.molecules import META_COLUMNS, describe_mol, descriptor_functions, descriptor_row, \
    parse_smiles
from biodl.featurizers.registry import register
from biodl.graphs import ATOM_VOCAB, BOND_VOCAB, MolGraphs
from biodl.registry import Choices

_HYBRIDIZATION = {"S": 0, "SP": 1, "SP2": 2, "SP3": 3, "SP3D": 4, "SP3D2": 5}
_BOND_TYPE = {"SINGLE": 0, "DOUBLE": 1, "TRIPLE": 2, "AROMATIC": 3}


def atom_codes(atom) -> tuple[int, ...]:
    """The ATOM_CODES of one RDKit atom; a value past a vocabulary's end becomes its "other" code."""
    charge = atom.GetFormalCharge()
    return (min(atom.GetAtomicNum(), ATOM_VOCAB[0] - 1),
            min(atom.GetTotalDegree(), ATOM_VOCAB[1] - 1),
            charge + 2 if -2 <= charge <= 2 else ATOM_VOCAB[2] - 1,
            min(int(atom.GetChiralTag()), ATOM_VOCAB[3] - 1),
            min(atom.GetTotalNumHs(), ATOM_VOCAB[4] - 1),
            _HYBRIDIZATION.get(str(atom.GetHybridization()), ATOM_VOCAB[5] - 1),
            int(atom.GetIsAromatic()),
            int(atom.IsInRing()))


def bond_codes(bond) -> tuple[int, ...]:
    return (_BOND_TYPE.get(str(bond.GetBondType()), BOND_VOCAB[0] - 1),
            int(bond.GetIsConjugated()),
            int(bond.IsInRing()),
            min(int(bond.GetStereo()), BOND_VOCAB[3] - 1))


@register
class MolGraph(Featurizer):
    """Atom and bond codes of each molecule, for ``model: {type: mpnn}``.

    ``mol_features``: ``none``, or ``rdkit`` for RDKit's 2D descriptors (all of
    ``Descriptors._descList``, or the names in ``descriptors``) as extra whole-molecule inputs.
    """

    name = "molgraph"
    modality = "molecule"
    layout = "graph"
    param_constraints = {"mol_features": Choices("none", "rdkit")}
    chunk_size = 1000

    def __init__(self, mol_features: str = "none", descriptors: list[str] | None = None, n_jobs: int | None = 1):
        super().__init__(n_jobs)
        if mol_features not in ("none", "rdkit"):
            raise ValueError(f"mol_features must be 'none' or 'rdkit', not {mol_features!r}")
        self.mol_features, self.descriptors = mol_features, descriptors

    def feature_names(self) -> list[str]:
        """Names of the molecule features (empty without ``mol_features``)."""
        if self.mol_features == "none":
            return []
        return [name for name, _ in descriptor_functions(self.descriptors)]

    def _featurize_chunk(self, inputs: list, *, offset: int, meta: bool) -> FeaturizeResult:
        from rdkit import RDLogger

        RDLogger.DisableLog("rdApp.*")
        functions = descriptor_functions(self.descriptors) if self.mol_features == "rdkit" else None
        atoms, bonds, edges, index, mol_rows, kept, rejects = [], [], [], [], [], [], []
        cols: dict[str, list] = {c: [] for c in (*META_COLUMNS, "n_atoms", "n_bonds")} if meta else {}
        if meta and functions is not None:
            cols["nonfinite"] = []
        n_atoms = n_bonds = 0
        for i, smiles in enumerate(inputs):
            mol, reason = parse_smiles(smiles)
            if mol is None:
                rejects.append(Reject(offset + i, "" if smiles is None else str(smiles), reason))
                continue
            atoms.extend(atom_codes(a) for a in mol.GetAtoms())
            for bond in mol.GetBonds():
                bonds.append(bond_codes(bond))
                edges.append((bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()))
            index.append((n_atoms, mol.GetNumAtoms(), n_bonds, mol.GetNumBonds()))
            n_atoms, n_bonds = n_atoms + mol.GetNumAtoms(), n_bonds + mol.GetNumBonds()
            if functions is not None:
                values, bad = descriptor_row(mol, functions)
                mol_rows.append(values)
                if meta:
                    cols["nonfinite"].append(bad)
            kept.append(offset + i)
            if meta:
                for col, value in zip(META_COLUMNS, describe_mol(mol)):
                    cols[col].append(value)
                cols["n_atoms"].append(mol.GetNumAtoms())
                cols["n_bonds"].append(mol.GetNumBonds())
        X = MolGraphs(index=np.asarray(index, np.int64).reshape(-1, 4),
                      atoms=np.asarray(atoms, np.uint8).reshape(-1, len(ATOM_VOCAB)),
                      bonds=np.asarray(bonds, np.uint8).reshape(-1, len(BOND_VOCAB)),
                      edges=np.asarray(edges, np.int32).reshape(-1, 2),
                      mol_features=None if functions is None
                      else np.asarray(mol_rows, np.float32).reshape(-1, len(functions)))
        return FeaturizeResult(X=X, kept=np.asarray(kept, np.int64), rejects=rejects, meta=cols)

    def _empty_X(self) -> MolGraphs:
        return MolGraphs.empty(n_mol_features=len(self.feature_names()) if self.mol_features == "rdkit" else None)

    def _merge(self, parts: list[FeaturizeResult], n: int) -> FeaturizeResult:
        merged = super()._merge([FeaturizeResult(X=np.zeros((len(p.kept), 0)), kept=p.kept, rejects=p.rejects,
                                                 meta=p.meta) for p in parts], n)
        merged.X = MolGraphs.concat([p.X for p in parts]) if parts else self._empty_X()
        return merged
