"""Recurrent network (GRU / LSTM) for SMILES tokens or DNA."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from biodl.encodings import PAD  # the tokens' <pad> id (0)
from biodl.models.base import (Model, check_bool, check_choice, check_int, check_number, check_probability,
                               dna_onehot)
from biodl.models.registry import register_model

#: recurrent cell name → single-layer module class
CELLS: dict[str, type[nn.RNNBase]] = {"gru": nn.GRU, "lstm": nn.LSTM}


@register_model
class RNN(Model):
    """Embedding (tokens) or one-hot (DNA) → stacked (bi)GRU / LSTM → Dropout → Linear.

    Input, ``input="tokens"``: token codes ``(B, L)`` uint8 / uint16 / int as stored by the
    ``smiles_tokens`` featurizer, left-aligned, padded with 0 (``<pad>``). Each sequence is run only
    over its non-pad tokens (``pack_padded_sequence``; length = number of non-pad tokens, at least 1),
    so the output does not depend on how much padding the batch has.
    ``input="dna"``: codes ``(B, L)`` (or float one-hot ``(B, 4, L)``), fed as ``(B, L, 4)``; DNA
    batches have equal lengths, so nothing is packed. Output: float32 ``(B, n_outputs)``.

    The sequence representation is the concatenated final hidden state of the last layer in each
    direction (rather than a mean over valid steps). With packing, the forward state is taken at
    each sequence's own last token and the backward state after reading back to its first, so both
    have seen exactly the valid tokens: padding is excluded by construction, with no mask of our
    own to get wrong. A masked mean would need the output unpacked and a length mask; it may suit
    long DNA windows better, and would be one more option here if a benchmark shows it.

    Layers are separate single-layer modules with ``nn.Dropout`` between them, rather than one
    ``nn.GRU(num_layers, dropout)``: the built-in inter-layer dropout is no ``nn.Dropout`` module,
    so MC dropout could not switch it on at inference.

    Parameters
    ----------
    cell: ``gru`` or ``lstm``.
    hidden: hidden units per direction.
    layers: stacked recurrent layers.
    bidirectional: also read each sequence backwards.
    dropout: between recurrent layers and before the output layer.
    embedding: token embedding size (tokens only).
    input: ``tokens`` or ``dna``.
    vocab_size: embedding rows (tokens only); must exceed the largest token code, i.e. be at least
        the featurizer's vocabulary size. 256 covers every uint8 code.
    n_value: one-hot value of the four channels for N (DNA only).
    """

    name = "rnn"

    def __init__(self, input_shape: Sequence[int], n_outputs: int, *, cell: str = "gru", hidden: int = 128,
                 layers: int = 1, bidirectional: bool = True, dropout: float = 0.1, embedding: int = 32,
                 input: str = "tokens", vocab_size: int = 256, n_value: float = 0.0):  # noqa: A002
        cell = check_choice("cell", cell, CELLS)
        hidden = check_int("hidden", hidden)
        layers = check_int("layers", layers)
        bidirectional = check_bool("bidirectional", bidirectional)
        dropout = check_probability("dropout", dropout)
        embedding = check_int("embedding", embedding)
        input = check_choice("input", input, ("tokens", "dna"))  # noqa: A001
        vocab_size = check_int("vocab_size", vocab_size, minimum=2)
        n_value = check_number("n_value", n_value)
        super().__init__(input_shape, n_outputs, cell=cell, hidden=hidden, layers=layers,
                         bidirectional=bidirectional, dropout=dropout, embedding=embedding, input=input,
                         vocab_size=vocab_size, n_value=n_value)
        self._check_input_rank(1, f"(L,): {'token codes' if input == 'tokens' else 'DNA codes'}")
        self.tokens, self.n_value = input == "tokens", n_value
        # padding_idx keeps the <pad> row at zero and out of the gradient
        self.embed = nn.Embedding(vocab_size, embedding, padding_idx=PAD) if self.tokens else None
        directions = 2 if bidirectional else 1
        width = embedding if self.tokens else 4
        self.rnns = nn.ModuleList()
        for _ in range(layers):
            self.rnns.append(CELLS[cell](width, hidden, batch_first=True, bidirectional=bidirectional))
            width = hidden * directions
        self.layer_dropout = nn.Dropout(dropout)
        self.head_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, self.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Token or DNA codes ``(B, L)`` → float32 ``(B, n_outputs)``."""
        if self.tokens:
            codes = x.long()
            # lengths must be a CPU tensor for packing; clamp so an all-pad row is one <pad> step
            lengths = (codes != PAD).sum(1).clamp(min=1).cpu()
            seq = pack_padded_sequence(self.embed(codes), lengths, batch_first=True, enforce_sorted=False)
        else:
            seq = dna_onehot(x, self.n_value).transpose(1, 2).contiguous()
        for i, rnn in enumerate(self.rnns):
            if i:
                seq = self._dropout(seq)
            seq, state = rnn(seq)
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
        # (directions, B, hidden) of the last layer → (B, directions * hidden); the packed RNN
        # already returns it in the input's batch order
        rep = h_n.transpose(0, 1).reshape(h_n.shape[1], -1)
        return self.head(self.head_dropout(rep))

    def _dropout(self, seq: torch.Tensor | PackedSequence) -> torch.Tensor | PackedSequence:
        """Inter-layer dropout on a padded tensor or on a packed sequence's data (valid steps only)."""
        if isinstance(seq, PackedSequence):
            return PackedSequence(self.layer_dropout(seq.data), seq.batch_sizes, seq.sorted_indices,
                                  seq.unsorted_indices)
        return self.layer_dropout(seq)
