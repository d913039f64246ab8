"""Molecular graphs as flat arrays plus offsets: on disk, in memory and on the device.

A set of N molecules is five arrays (DESIGN.md, "featurized dataset", graph layout)::

    index          int64 (N, 4)   atom_start, n_atoms, bond_start, n_bonds of each molecule
    atoms          uint8 (A, 8)   categorical atom codes (ATOM_CODES), every molecule's atoms in turn
    bonds          uint8 (B, 4)   categorical bond codes (BOND_CODES), one row per undirected bond
    edges          int32 (B, 2)   the bond's two atoms, numbered within their molecule
    mol_features   float32 (N, D) optional whole-molecule features (RDKit descriptors), NaN = failed

On disk ``index`` is ``X.npy`` (one row per kept record, so every check of row counts holds as for
any other featurizer) and the others are ``graph_*.npy`` beside it, all memory-mappable: a subset
reads only its molecules' rows. Codes, not one-hot vectors, are stored — 12 bytes per atom and bond
instead of Chemprop's 133 + 14 floats — and the model turns them into embeddings on the device (a
sum of embedding rows is the same function as a linear layer on the concatenated one-hot vectors).

:class:`MolGraphs` is the numpy side (what a featurizer returns and ``FeaturizedDataset.X`` holds);
:class:`GraphTensors` the same arrays as torch tensors on a device, with the directed-edge view a
message-passing network reads. Both are indexed like an array along molecules (``g[rows]``), so the
training loop treats them like any other ``X``. This module imports torch only inside the tensor
methods.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

#: atom code columns and their vocabulary sizes; the last value of each is "other"
ATOM_CODES = (("atomic_number", 120), ("degree", 7), ("formal_charge", 6), ("chiral_tag", 5),
              ("total_hs", 6), ("hybridization", 7), ("aromatic", 2), ("in_ring", 2))
#: bond code columns and their vocabulary sizes
BOND_CODES = (("bond_type", 5), ("conjugated", 2), ("in_ring", 2), ("stereo", 7))
ATOM_VOCAB = tuple(n for _, n in ATOM_CODES)
BOND_VOCAB = tuple(n for _, n in BOND_CODES)

GRAPH_FILES = ("graph_atoms.npy", "graph_bonds.npy", "graph_edges.npy")
MOL_FEATURES_FILE = "graph_mol_features.npy"


def _row_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row numbers of the ranges ``[start, start + count)``, one after another (numpy)."""
    counts = np.asarray(counts, np.int64)
    shift = np.repeat(np.asarray(starts, np.int64) - (np.cumsum(counts) - counts), counts)
    return shift + np.arange(int(counts.sum()), dtype=np.int64)


def _torch_row_ranges(starts, counts):
    """The same for torch tensors, on their device."""
    import torch

    shift = torch.repeat_interleave(starts - (torch.cumsum(counts, 0) - counts), counts)
    return shift + torch.arange(shift.numel(), device=counts.device)


@dataclass
class MolGraphs:
    """N molecular graphs in flat arrays (see the module docstring for shapes and dtypes).

    Behaves like an array of N items where the code reads ``X``: ``len``, ``shape`` (N, atom code
    columns, bond code columns, molecule features), ``dtype`` (uint8, the codes) and ``g[rows]``
    (an int array, a boolean mask or a slice → a compact MolGraphs of those molecules, in that order).
    """

    index: np.ndarray
    atoms: np.ndarray
    bonds: np.ndarray
    edges: np.ndarray
    mol_features: np.ndarray | None = None

    kind = "graph"

    @property
    def n_mol_features(self) -> int:
        return 0 if self.mol_features is None else int(self.mol_features.shape[1])

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), self.atoms.shape[1], self.bonds.shape[1], self.n_mol_features)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.atoms.dtype

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, rows) -> MolGraphs:
        if isinstance(rows, (int, np.integer)):
            rows = [rows]
        rows = np.arange(len(self))[rows] if isinstance(rows, slice) else np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        index = np.asarray(self.index[rows], np.int64).reshape(-1, 4)
        atom_rows, bond_rows = _row_ranges(index[:, 0], index[:, 1]), _row_ranges(index[:, 2], index[:, 3])
        counts = index[:, [1, 3]]
        starts = np.cumsum(counts, axis=0) - counts
        return MolGraphs(index=np.stack([starts[:, 0], counts[:, 0], starts[:, 1], counts[:, 1]], 1),
                         atoms=np.asarray(self.atoms[atom_rows]), bonds=np.asarray(self.bonds[bond_rows]),
                         edges=np.asarray(self.edges[bond_rows]),
                         mol_features=None if self.mol_features is None else np.asarray(self.mol_features[rows]))

    def with_mol_features(self, mol_features: np.ndarray | None) -> MolGraphs:
        return replace(self, mol_features=mol_features)

    @classmethod
    def empty(cls, n_atom_codes: int = len(ATOM_CODES), n_bond_codes: int = len(BOND_CODES),
              n_mol_features: int | None = None) -> MolGraphs:
        return cls(index=np.zeros((0, 4), np.int64), atoms=np.zeros((0, n_atom_codes), np.uint8),
                   bonds=np.zeros((0, n_bond_codes), np.uint8), edges=np.zeros((0, 2), np.int32),
                   mol_features=None if n_mol_features is None else np.zeros((0, n_mol_features), np.float32))

    @classmethod
    def concat(cls, parts: list[MolGraphs]) -> MolGraphs:
        """Molecules of ``parts`` one after another (offsets shifted)."""
        if not parts:
            return cls.empty()
        index = np.concatenate([p.index for p in parts]).astype(np.int64)
        counts = index[:, [1, 3]]
        starts = np.cumsum(counts, axis=0) - counts
        index = np.stack([starts[:, 0], counts[:, 0], starts[:, 1], counts[:, 1]], 1) if len(index) else index
        mol = None if parts[0].mol_features is None else np.concatenate([p.mol_features for p in parts])
        return cls(index=index, atoms=np.concatenate([p.atoms for p in parts]),
                   bonds=np.concatenate([p.bonds for p in parts]), edges=np.concatenate([p.edges for p in parts]),
                   mol_features=mol)

    # -- disk --------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """``X.npy`` (the index) and the ``graph_*.npy`` arrays into ``directory``."""
        directory = Path(directory)
        np.save(directory / "X.npy", np.ascontiguousarray(self.index, np.int64))
        for name, array in zip(GRAPH_FILES, (self.atoms, self.bonds, self.edges)):
            np.save(directory / name, np.ascontiguousarray(array))
        if self.mol_features is not None:
            np.save(directory / MOL_FEATURES_FILE, np.ascontiguousarray(self.mol_features, np.float32))

    def check(self, where: str) -> MolGraphs:
        """The arrays agree with each other; a fault is a ValueError naming what disagrees."""
        index = np.asarray(self.index)
        if index.ndim != 2 or index.shape[1] != 4:
            raise ValueError(f"{where}: index has shape {list(index.shape)}, expected (N, 4)")
        if self.edges.ndim != 2 or self.edges.shape[1] != 2 or len(self.edges) != len(self.bonds):
            raise ValueError(f"{where}: {len(self.bonds)} bonds but edges of shape {list(self.edges.shape)}")
        if len(index):
            atom_end, bond_end = index[-1, 0] + index[-1, 1], index[-1, 2] + index[-1, 3]
            if atom_end != len(self.atoms) or bond_end != len(self.bonds) or (index < 0).any():
                raise ValueError(f"{where}: the index covers {atom_end} atoms and {bond_end} bonds, the arrays "
                                 f"hold {len(self.atoms)} and {len(self.bonds)}")
        if self.mol_features is not None and len(self.mol_features) != len(index):
            raise ValueError(f"{where}: {len(self.mol_features)} rows of molecule features for {len(index)} "
                             "molecules")
        return self

    # -- device ------------------------------------------------------------------------------------
    def to_tensors(self, device) -> GraphTensors:
        import torch

        def tensor(array, dtype=None):
            array = np.ascontiguousarray(array)
            if not array.flags.writeable:  # a memory map opened read-only: torch wants its own copy
                array = array.copy()
            out = torch.from_numpy(array)
            return (out if dtype is None else out.to(dtype)).to(device)

        return GraphTensors(index=tensor(self.index), atoms=tensor(self.atoms, torch.long),
                            bonds=tensor(self.bonds, torch.long), edges=tensor(self.edges, torch.long),
                            mol_features=None if self.mol_features is None else tensor(self.mol_features))


@dataclass
class GraphTensors:
    """:class:`MolGraphs` on a torch device: codes as int64 (embedding indices), the index and
    edges as int64. ``g[rows]`` (a LongTensor of molecules) is a compact batch on the same device,
    gathered without leaving it; a model reads a batch through :meth:`directed`."""

    index: object
    atoms: object
    bonds: object
    edges: object
    mol_features: object = None

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def __getitem__(self, rows) -> GraphTensors:
        import torch

        index = self.index[rows]
        atom_rows = _torch_row_ranges(index[:, 0], index[:, 1])
        bond_rows = _torch_row_ranges(index[:, 2], index[:, 3])
        counts = index[:, [1, 3]]
        starts = torch.cumsum(counts, 0) - counts
        return GraphTensors(index=torch.stack([starts[:, 0], counts[:, 0], starts[:, 1], counts[:, 1]], 1),
                            atoms=self.atoms[atom_rows], bonds=self.bonds[bond_rows], edges=self.edges[bond_rows],
                            mol_features=None if self.mol_features is None else self.mol_features[rows])

    def directed(self):
        """``(source, target, bond, atom_molecule)`` of this batch, as LongTensors on its device.

        Each undirected bond b is two directed edges, 2b (first atom → second) and 2b + 1 (back), so
        the reverse of edge e is ``e ^ 1``; atoms are numbered across the batch; ``bond[e]`` is the
        bond row of edge e; ``atom_molecule[a]`` the batch position of atom a's molecule.
        """
        import torch

        n = len(self)
        molecules = torch.arange(n, device=self.index.device)
        atom_molecule = torch.repeat_interleave(molecules, self.index[:, 1])
        shift = torch.repeat_interleave(self.index[:, 0], self.index[:, 3])
        first, second = self.edges[:, 0] + shift, self.edges[:, 1] + shift
        source = torch.stack([first, second], 1).reshape(-1)
        target = torch.stack([second, first], 1).reshape(-1)
        bond = torch.arange(first.numel(), device=first.device).repeat_interleave(2)
        return source, target, bond, atom_molecule


def load_graphs(directory: str | Path, index: np.ndarray, mmap: bool, load_npy) -> MolGraphs:
    """The graph arrays of a dataset directory whose ``X.npy`` (already loaded) is ``index``.

    ``load_npy(path, mmap_mode)`` reads one array with the dataset's one-line errors.
    """
    directory = Path(directory)
    missing = [name for name in GRAPH_FILES if not (directory / name).is_file()]
    if missing:
        raise ValueError(f"{directory}: a graph dataset without {', '.join(missing)}")
    mode = "r" if mmap else None
    atoms, bonds, edges = (load_npy(directory / name, mode) for name in GRAPH_FILES)
    mol_path = directory / MOL_FEATURES_FILE
    mol_features = load_npy(mol_path, None) if mol_path.is_file() else None
    return MolGraphs(index=np.asarray(index), atoms=atoms, bonds=bonds, edges=edges,
                     mol_features=mol_features).check(str(directory))


def to_model_input(X, device):
    """Features as stored (or a batch of them) → what a model's ``forward`` takes, on ``device``:
    a tensor for arrays, :class:`GraphTensors` for graphs."""
    import torch

    if isinstance(X, MolGraphs):
        return X.to_tensors(device)
    # a read-only memory map's rows are copied: torch will not wrap memory it may not write
    return torch.from_numpy(np.require(X, requirements=["C", "W"])).to(device)


def in_memory(X):
    """Rows of features read into memory (a memory map's rows as an array; graphs already are)."""
    return X if isinstance(X, MolGraphs) else np.asarray(X)
