"""Directed message-passing neural network (D-MPNN; Yang et al. 2019, Chemprop's encoder).

Reads :class:`biodl.graphs.GraphTensors` batches (``molgraph`` features). Hidden states live on
directed bonds: a bond u→v starts from its source atom and bond features, and each of ``depth - 1``
rounds adds the messages arriving at u except the one coming back from v. Atom states are then
their own features plus the sum of incoming bond states; a molecule is the ``aggregation`` of its
atoms, optionally joined with whole-molecule features (RDKit descriptors, standardized on the
training split), and a feed-forward head maps it to the outputs.

Why not import Chemprop's modules: its ``BondMessagePassing`` reads a ``BatchMolGraph`` of
one-hot float features (133 per atom, 14 per bond) that its data loader builds per batch in
Python, and it brings Lightning. Here the first linear maps of the atom and bond features are
sums of embedding rows over stored codes (the same function), batches are gathered on the device
from flat arrays, and the loop is biodl's own (``bench/train_speed.py --mpnn`` measures both).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from biodl.graphs import ATOM_VOCAB, BOND_VOCAB
from biodl.models.base import Model, check_choice, check_int, check_int_list, check_probability, make_activation
from biodl.models.registry import register_model

AGGREGATIONS = ("mean", "sum", "norm")
#: ``norm`` aggregation divides the atom sum by this (Chemprop's NormAggregation default)
NORM = 100.0


class CodeEmbedding(nn.Module):
    """Sum of one embedding per code column: ``(R, K)`` int codes → ``(R, dim)`` float.

    Equal to a linear layer (without bias) on the concatenated one-hot vectors of the K columns;
    one ``EmbeddingBag`` over the K tables laid end to end (one kernel forward and backward, not K).
    """

    def __init__(self, vocab: Sequence[int], dim: int):
        super().__init__()
        self.bag = nn.EmbeddingBag(int(sum(vocab)), dim, mode="sum")
        starts = torch.tensor([0, *vocab[:-1]], dtype=torch.long).cumsum(0)
        self.register_buffer("starts", starts, persistent=False)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.bag(codes + self.starts)


@register_model
class MPNN(Model):
    """D-MPNN on molecular graphs.

    input_shape: ``(atom code columns, bond code columns, molecule features)`` of the ``molgraph``
    featurizer (molecule features may be 0). ``forward(g)`` takes a GraphTensors batch of B
    molecules and returns float32 ``(B, n_outputs)``.

    hidden: size of bond and atom states; depth: message-passing steps (≥ 1); dropout: on bond
    states, atom states and the head's hidden layers; aggregation: ``mean``, ``sum`` or ``norm``
    (sum / 100) of atom states per molecule; ffn_hidden: the head's hidden layer sizes;
    batch_norm: batch normalization of the molecule vector before the head.
    """

    name = "mpnn"
    min_input_dim = 0  # no molecule features is a valid graph input

    def __init__(self, input_shape: Sequence[int], n_outputs: int, hidden: int = 300, depth: int = 3,
                 dropout: float = 0.0, aggregation: str = "mean", ffn_hidden: Sequence[int] = (300,),
                 activation: str = "relu", batch_norm: bool = False):
        super().__init__(input_shape, n_outputs, hidden=hidden, depth=depth, dropout=dropout,
                         aggregation=aggregation, ffn_hidden=list(ffn_hidden), activation=activation,
                         batch_norm=batch_norm)
        self._check_input_rank(3, "(atom code columns, bond code columns, molecule features)")
        n_atom, n_bond, n_mol = self.input_shape
        if (n_atom, n_bond) != (len(ATOM_VOCAB), len(BOND_VOCAB)):
            raise ValueError(f"needs molgraph features with {len(ATOM_VOCAB)} atom and {len(BOND_VOCAB)} bond "
                             f"code columns; got {n_atom} and {n_bond}")
        hidden, self.depth = check_int("hidden", hidden), check_int("depth", depth)
        p = check_probability("dropout", dropout)
        self.aggregation = check_choice("aggregation", aggregation, AGGREGATIONS)
        ffn_hidden = check_int_list("ffn_hidden", ffn_hidden) if ffn_hidden else []
        # W_i on [atom features ‖ bond features] of a bond's source, as two embedding sums
        self.atom_in = CodeEmbedding(ATOM_VOCAB, hidden)
        self.bond_in = CodeEmbedding(BOND_VOCAB, hidden)
        self.W_h = nn.Linear(hidden, hidden, bias=False)
        # W_o on [atom features ‖ incoming messages]
        self.atom_out = CodeEmbedding(ATOM_VOCAB, hidden)
        self.W_o = nn.Linear(hidden, hidden)
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(p)
        width = hidden + n_mol
        self.norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        layers: list[nn.Module] = []
        for size in ffn_hidden:
            layers += [nn.Linear(width, size), make_activation(activation), nn.Dropout(p)]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.head = nn.Sequential(*layers)

    def encode(self, g) -> torch.Tensor:
        """Molecule vectors ``(B, hidden + molecule features)`` before the head."""
        source, target, bond, atom_molecule = g.directed()
        n_atoms = g.atoms.shape[0]
        h0 = self.atom_in(g.atoms).index_select(0, source) + self.bond_in(g.bonds).index_select(0, bond)
        h = self.act(h0)
        for _ in range(self.depth - 1):
            incoming = h.new_zeros((n_atoms, h.shape[1])).index_add_(0, target, h)
            # index_select, not h[idx]: its backward is an index_add, where advanced indexing's is a
            # far slower accumulating index_put; edges 2b and 2b + 1 are each other's reverse, so
            # the reverse messages are the pairs swapped, with no gather at all
            reverse = h.view(-1, 2, h.shape[1]).flip(1).reshape(h.shape)
            h = self.dropout(self.act(h0 + self.W_h(incoming.index_select(0, source) - reverse)))
        incoming = h.new_zeros((n_atoms, h.shape[1])).index_add_(0, target, h)
        atoms = self.dropout(self.act(self.atom_out(g.atoms) + self.W_o(incoming)))
        n = len(g)
        molecules = atoms.new_zeros((n, atoms.shape[1])).index_add_(0, atom_molecule, atoms)
        if self.aggregation == "mean":
            molecules = molecules / g.index[:, 1].clamp(min=1).unsqueeze(1).to(molecules.dtype)
        elif self.aggregation == "norm":
            molecules = molecules / NORM
        if g.mol_features is not None:
            molecules = torch.cat([molecules, g.mol_features], 1)
        return molecules

    def forward(self, g) -> torch.Tensor:
        return self.head(self.norm(self.encode(g)))
