"""Molecules: which atoms drive a prediction, drawn on the 2-D structure.

* :func:`bit_occlusion` — for fingerprint models: output(x) − output(x with one set bit cleared),
  for every set bit of every molecule, scored in batches;
* :func:`atom_weights_from_bits` — those bit weights mapped back to atoms through the bits'
  environments (RDKit's bit-info map: each occurrence of a bit is a centre atom and a radius; the
  environment is the atoms of the bonds within that radius): a bit's weight is split evenly over its
  occurrences and, within one, over the environment's atoms, so the atom weights add up to the bit
  weights;
* :func:`graph_atom_attributions` — for the ``mpnn`` graph model: integrated gradients over one gate
  per atom that scales the atom's feature embeddings (both places the D-MPNN reads them), from 0 (the
  atom's features absent, the bonds kept) to 1; the weights add up to output(molecule) −
  output(no atom features) up to the integral's error, which is returned;
* :func:`draw_atom_map` — RDKit's similarity map of atom weights (green raises the output, pink
  lowers it), as PNG bytes.

Outputs are what the caller's function returns (biodl's stage passes values in target units for a
regression, logits for a classifier).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def bit_occlusion(output: Callable[[np.ndarray], np.ndarray], X: np.ndarray, *,
                  batch_size: int = 4096) -> np.ndarray:
    """float32 (N, D): ``output(X[i]) − output(X[i] with feature d set to 0)`` for every nonzero
    feature d of every row (0 elsewhere). ``X``: (N, D) fingerprint bits or counts as stored;
    ``output``: rows (B, D) → float (B,)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be (N, D) fingerprints, got shape {X.shape}")
    out = np.zeros(X.shape, np.float32)
    rows, cols = np.nonzero(X)
    if len(rows) == 0:
        return out
    reference = np.asarray(output(X), np.float64).reshape(-1)
    for start in range(0, len(rows), batch_size):
        r, c = rows[start:start + batch_size], cols[start:start + batch_size]
        variants = X[r].copy()
        variants[np.arange(len(r)), c] = 0
        out[r, c] = reference[r] - np.asarray(output(variants), np.float64).reshape(-1)
    return out


def _environment_atoms(mol, centre: int, radius: int) -> list[int]:
    from rdkit import Chem

    if radius == 0:
        return [centre]
    atoms = {centre}
    for bond in Chem.FindAtomEnvironmentOfRadiusN(mol, radius, centre):
        b = mol.GetBondWithIdx(bond)
        atoms.update((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))
    return sorted(atoms)


def bit_environments(mol, *, radius: int = 2, n_bits: int = 2048, chirality: bool = False) -> dict[int, list[list[int]]]:
    """{bit: [atoms of each occurrence's environment]} of ``mol``'s Morgan fingerprint, as biodl's
    ``ecfp`` featurizer sets it (same generator parameters)."""
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits, includeChirality=chirality)
    info = rdFingerprintGenerator.AdditionalOutput()
    info.AllocateBitInfoMap()
    gen.GetFingerprint(mol, additionalOutput=info)
    return {bit: [_environment_atoms(mol, centre, r) for centre, r in occurrences]
            for bit, occurrences in info.GetBitInfoMap().items()}


def atom_weights_from_bits(mol, bit_weights: np.ndarray, *, radius: int = 2, n_bits: int = 2048,
                           chirality: bool = False) -> np.ndarray:
    """float64 (n_atoms,) atom weights of ``mol`` from ``bit_weights`` (n_bits,): each bit's weight
    split evenly over its occurrences and over each occurrence's environment atoms."""
    bit_weights = np.asarray(bit_weights, np.float64)
    if bit_weights.shape != (n_bits,):
        raise ValueError(f"bit_weights must be ({n_bits},), got {bit_weights.shape}")
    weights = np.zeros(mol.GetNumAtoms())
    for bit, environments in bit_environments(mol, radius=radius, n_bits=n_bits, chirality=chirality).items():
        share = bit_weights[bit] / len(environments)
        for atoms in environments:
            weights[atoms] += share / len(atoms)
    return weights


def graph_atom_attributions(module, graphs, *, task: int = 0, steps: int = 32,
                            batch_size: int = 128) -> tuple[list[np.ndarray], np.ndarray]:
    """(per molecule float32 (n_atoms,) attributions, float32 (N,) error): integrated gradients of
    output ``task`` of an ``mpnn`` module over per-atom gates on its atom embeddings (``atom_in``
    and ``atom_out``), from 0 to 1 in ``steps`` midpoint steps. ``graphs``: a
    :class:`biodl.graphs.GraphTensors` on the module's device (molecule features already
    standardized, as :class:`biodl.train.TrainedModel` feeds it). ``error``: sum of the attributions
    − (output − output with every gate at 0)."""
    import torch

    if not (hasattr(module, "atom_in") and hasattr(module, "atom_out")):
        raise ValueError("graph attributions need a D-MPNN (a module with atom_in / atom_out embeddings)")
    module.eval()
    gate: dict[str, torch.Tensor] = {}
    hooks = [layer.register_forward_hook(lambda _m, _i, out: out * gate["g"][:, None])
             for layer in (module.atom_in, module.atom_out)]
    alphas = (np.arange(steps) + 0.5) / steps
    attributions, errors = [], []
    try:
        for start in range(0, len(graphs), batch_size):
            batch = graphs[torch.arange(start, min(start + batch_size, len(graphs)), device=graphs.atoms.device)]
            n_atoms = batch.atoms.shape[0]
            total = torch.zeros(n_atoms, dtype=torch.float64, device=batch.atoms.device)
            for alpha in alphas:
                g = torch.full((n_atoms,), float(alpha), device=batch.atoms.device, requires_grad=True)
                gate["g"] = g
                # molecules are independent in eval mode: the sum's gradient is each one's own
                (grad,) = torch.autograd.grad(module(batch)[:, task].sum(), g)
                total += grad.double()
            attr = (total / steps).cpu().numpy().astype(np.float32)
            with torch.no_grad():
                gate["g"] = torch.ones(n_atoms, device=batch.atoms.device)
                full = module(batch)[:, task].double().cpu().numpy()
                gate["g"] = torch.zeros(n_atoms, device=batch.atoms.device)
                empty = module(batch)[:, task].double().cpu().numpy()
            counts = batch.index[:, 1].cpu().numpy()
            parts = np.split(attr, np.cumsum(counts)[:-1])
            attributions += parts
            errors.append(np.array([p.sum() for p in parts]) - (full - empty))
    finally:
        for hook in hooks:
            hook.remove()
    return attributions, (np.concatenate(errors).astype(np.float32) if errors else np.zeros(0, np.float32))


def draw_atom_map(mol, weights: Sequence[float], *, size: tuple[int, int] = (320, 260)) -> bytes:
    """PNG bytes: ``mol`` drawn with RDKit's similarity map of ``weights`` (n_atoms,)."""
    from rdkit.Chem.Draw import SimilarityMaps, rdMolDraw2D

    weights = [float(w) for w in weights]
    if len(weights) != mol.GetNumAtoms():
        raise ValueError(f"{len(weights)} weights for a molecule of {mol.GetNumAtoms()} atoms")
    drawer = rdMolDraw2D.MolDraw2DCairo(*size)
    # the map's contours scale with the largest |weight|: an all-zero map would divide by zero
    if max(map(abs, weights), default=0.0) == 0.0 or mol.GetNumAtoms() < 2:
        drawer.DrawMolecule(mol)
    else:
        SimilarityMaps.GetSimilarityMapFromWeights(mol, weights, draw2d=drawer)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()
