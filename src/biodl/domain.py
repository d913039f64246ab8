"""Applicability domain of molecule models: how close is a molecule to anything the model trained on.

Each molecule's maximum Tanimoto similarity to the training set, on Morgan fingerprints (radius 2,
2048 bits) whatever features the model itself reads, so the number means the same for every
model. A low value (below ~0.3 for ECFP4) marks an extrapolation, where errors and σ grow.

The training fingerprints travel inside the model file as packed bits (uint8, N × 256 bytes), so
``biodl predict`` reports the similarity for new molecules too.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

RADIUS, N_BITS = 2, 2048
MOLECULE_FEATURIZERS = ("ecfp", "rdkit_descriptors", "smiles_tokens")


def is_molecular(featurizer_spec: dict | None) -> bool:
    return bool(featurizer_spec) and featurizer_spec.get("type") in MOLECULE_FEATURIZERS


def fingerprints(smiles: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Morgan bit fingerprints: (bits uint8 (N, N_BITS) — zeros where RDKit cannot parse, valid bool (N,))."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import rdFingerprintGenerator

    RDLogger.DisableLog("rdApp.*")
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=N_BITS)
    bits = np.zeros((len(smiles), N_BITS), np.uint8)
    valid = np.zeros(len(smiles), bool)
    for i, smi in enumerate(smiles):
        mol = Chem.MolFromSmiles(str(smi)) if isinstance(smi, str) and smi else None
        if mol is not None:
            bits[i] = generator.GetFingerprintAsNumPy(mol)
            valid[i] = True
    return bits, valid


def max_tanimoto(query_bits: np.ndarray, reference_bits: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """For each query row (uint8 0/1, (Q, B)) its maximum Tanimoto similarity to any reference row
    ((R, B)): float64 (Q,). Intersections by one matrix product per chunk."""
    ref = reference_bits.astype(np.float32)
    ref_on = ref.sum(axis=1)
    out = np.zeros(len(query_bits))
    for start in range(0, len(query_bits), chunk):
        q = query_bits[start:start + chunk].astype(np.float32)
        inter = q @ ref.T
        union = q.sum(axis=1)[:, None] + ref_on[None, :] - inter
        sim = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        out[start:start + chunk] = sim.max(axis=1) if sim.shape[1] else 0.0
    return out


def domain_payload(train_smiles: Sequence[Any]) -> dict:
    """What the model file stores: packed training fingerprints as a torch uint8 tensor."""
    import torch

    bits, valid = fingerprints(train_smiles)
    packed = np.packbits(bits[valid], axis=1)
    return {"radius": RADIUS, "n_bits": N_BITS, "n_train": int(valid.sum()),
            "fingerprints": torch.from_numpy(np.ascontiguousarray(packed))}


def similarity_to_training(domain: dict, smiles: Sequence[Any]) -> np.ndarray:
    """Max Tanimoto similarity of each SMILES to the model's training set; NaN where unparseable."""
    reference = np.unpackbits(domain["fingerprints"].numpy(), axis=1)[:, :domain["n_bits"]]
    bits, valid = fingerprints(smiles)
    out = np.full(len(smiles), np.nan)
    if valid.any():
        out[valid] = max_tanimoto(bits[valid], reference)
    return out
