"""Stage 4b, interpret: a trained model + its features + split → ``results/interpret/{experiment}/``.

What is written (the report's interpretation section reads it; the files are the user's to reuse):

* ``summary.json`` — the method, the part and items explained, the output's units, per group the
  items and (DNA) the discovered motif with its JASPAR matches and null percentiles, the evolution
  run (DNA), figure captions;
* ``attributions.npz`` — the arrays (DNA: codes (N, L), attributions (N, L, 4), importance (N, L);
  molecules: per-atom weights flat with offsets, bit weights as rows / cols / values; images: maps
  (N, H, W));
* ``top_features.csv`` — one row per item: its id, label, prediction and its strongest features
  (DNA: the top window; molecules: the top atoms and bits; images: where the map peaks, the share of
  positive attribution on cell pixels);
* ``figures/*.png`` — logos, molecule maps, image maps.

Which items: DNA and molecules, for a classifier, the true positives the model ranks highest
(importance = what raises the output) and the true negatives it ranks lowest (importance = what
lowers it); for a regression, the highest and lowest predictions. Molecules add the largest errors
(the book's "where is the model wrong"). Images: the part's images in order, up to ``items``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from biodl.errors import UserError
from biodl.stages.split import positions

SUMMARY = "summary.json"


def interpret_experiment(name: str, model_path: str | Path, features: str | Path, split_path: str | Path,
                         out: str | Path, spec: Mapping, *, test_sets: Mapping[str, str | Path] | None = None,
                         seed: int = 0) -> dict:
    """Attributions of the model at ``model_path`` on ``spec['part']`` (an :class:`InterpretSpec`
    as a dict) written to the directory ``out``. Returns the summary."""
    from biodl.dataset import load_dataset
    from biodl.io import atomic_dir
    from biodl.segmentation import is_segmenter
    from biodl.spec import INTERPRET_METHODS, parse_block
    from biodl.splits import load_split

    block = parse_block("interpret", dict(spec), "interpret")
    test_sets = dict(test_sets or {})
    if block.part in test_sets:
        path = test_sets[block.part]
        ds = load_dataset(path)
        idx = np.arange(len(ds))
    elif block.part in ("train", "valid", "test"):
        path = features
        ds = load_dataset(features)
        idx = positions(ds, load_split(split_path), str(split_path))[block.part]
    else:
        raise UserError(f"interpret: part {block.part!r} is not train, valid, test or a --test-set "
                        f"({', '.join(test_sets) or 'none given'})")
    kind = (ds.manifest.get("featurizer") or {}).get("type")
    if kind not in INTERPRET_METHODS:
        raise UserError(f"{path}: interpretation is built for {', '.join(INTERPRET_METHODS)} features, not {kind}")
    method = block.method or INTERPRET_METHODS[kind][0]
    if method not in INTERPRET_METHODS[kind]:
        raise UserError(f"interpret: {method} does not apply to {kind} features ({', '.join(INTERPRET_METHODS[kind])})")
    if len(idx) == 0:
        raise UserError(f"{path}: part {block.part!r} has no items to explain")
    summary = {"experiment": name, "method": method, "part": block.part, "kind": kind, "seed": seed}
    with atomic_dir(out) as tmp:
        (tmp / "figures").mkdir()
        if is_segmenter(model_path):
            segmenter = _Segmenter(model_path)
            made_by, reads = ds.manifest.get("featurizer"), segmenter.fit.featurizer_spec
            if reads and made_by != reads:
                raise UserError(f"{path}: features made by {made_by}, the model reads features made by {reads}")
            summary.update(_images(segmenter, ds, idx, block, method, tmp))
        else:
            from biodl.stages.predict import check_features_fit
            from biodl.train import TrainedModel

            model = TrainedModel.load(model_path)
            check_features_fit(model, ds, str(path))
            if getattr(model.task, "class_rows", False):
                raise UserError(f"{model_path}: interpretation is built for binary and regression models, not "
                                f"{model.task_type}")
            target = _target(model, block.task, model_path)
            run = {"onehot": _dna, "ecfp": _fingerprints, "molgraph": _graphs, "image": _images}[kind]
            summary.update(run(_Predictor(model, target), ds, idx, block, method, tmp, seed=seed))
        (tmp / SUMMARY).write_text(json.dumps(summary, indent=1, default=_jsonable) + "\n")
    return summary


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value))


def _target(model, task: str | None, where) -> int:
    if task is None:
        return 0
    if task not in model.tasks:
        raise UserError(f"{where}: the model predicts {', '.join(model.tasks)}, not {task!r}")
    return model.tasks.index(task)


class _Predictor:
    """One output of a trained table model, in the units attributions are reported in: target
    units for a regression (the standardization undone), logits for a classifier."""

    def __init__(self, model, target: int):
        self.model, self.target = model, target
        self.regression = not model.task.is_classifier
        pre = model.preprocessor
        self.scale = float(np.asarray(pre.y_std).ravel()[target]) if self.regression and pre.y_std is not None else 1.0
        self.offset = float(np.asarray(pre.y_mean).ravel()[target]) if self.regression and pre.y_mean is not None \
            else 0.0
        self.task_name = model.tasks[target]
        self.units = f"{self.task_name} (target units)" if self.regression else f"{self.task_name} logit"

    def __call__(self, X) -> np.ndarray:
        return self.model.raw_outputs(X)[:, self.target].astype(np.float64) * self.scale + self.offset

    def labels(self, ds, idx) -> np.ndarray:
        return np.asarray(ds.y[idx], np.float64)[:, self.target]

    def module_is_plain(self) -> bool:
        """The network reads the stored features directly (no standardization in between)."""
        return self.model.preprocessor.x_mean is None


class _Segmenter:
    def __init__(self, model_path):
        from biodl.device import resolve_device
        from biodl.segmentation import SegmentationFit

        self.fit = SegmentationFit.load(model_path, device=resolve_device("auto"))
        self.units = "predicted cell area (pixels)"


def _groups(predictor, ds, idx: np.ndarray, n: int, *, errors: bool = False) -> tuple[list[dict], np.ndarray,
                                                                                       np.ndarray]:
    """(item groups to explain — positions into ``idx``, each with the sign that turns an
    attribution into importance for it —, the output of every item, its label)."""
    scores = predictor(_rows(ds.X, idx))
    y = predictor.labels(ds, idx)
    known = ~np.isnan(y)
    order = np.argsort(-scores, kind="stable")
    if not predictor.regression and known.any():
        positives = [i for i in order if known[i] and y[i] == 1][:n]
        negatives = [i for i in order[::-1] if known[i] and y[i] == 0][:n]
        groups = [{"name": "positives", "title": f"true positives the model ranks highest ({predictor.task_name} = 1)",
                   "rows": positives, "sign": 1.0},
                  {"name": "negatives", "title": f"true negatives the model ranks lowest ({predictor.task_name} = 0)",
                   "rows": negatives, "sign": -1.0}]
    else:  # a regression, or a part without labels (a user's test set): the two ends of the ranking
        groups = [{"name": "highest", "title": "highest predictions", "rows": list(order[:n]), "sign": 1.0},
                  {"name": "lowest", "title": "lowest predictions", "rows": list(order[::-1][:n]), "sign": -1.0}]
    if errors and known.any():
        # a classifier's error is on the probability scale (|p − y|), a regression's in target units
        value = scores if predictor.regression else 1 / (1 + np.exp(-scores))
        err = np.where(known, np.abs(value - np.nan_to_num(y)), -np.inf)
        worst = [i for i in np.argsort(-err, kind="stable") if known[i]][:n]
        groups.append({"name": "errors", "title": "largest errors", "rows": worst, "sign": 1.0})
    return [g | {"rows": [int(r) for r in g["rows"]]} for g in groups if g["rows"]], scores, y


def _rows(X, idx):
    from biodl.graphs import in_memory

    return in_memory(X[idx])


# -- DNA ---------------------------------------------------------------------------------------------
def _dna(predictor, ds, idx, block, method, tmp: Path, *, seed: int) -> dict:
    import torch

    from biodl import interpret
    from biodl.interpret import figures
    from biodl.motifs import jaspar_matrices, seqlets

    model = predictor.model
    if not predictor.module_is_plain():
        raise UserError("interpret: this DNA model standardizes its inputs; attributions read the codes as stored")
    per_group = max(1, block.items // 2)
    groups, scores, y = _groups(predictor, ds, idx, per_group)
    module = model.module

    class Output(torch.nn.Module):  # the attributed output, in the units reported
        def __init__(self):
            super().__init__()
            self.net = module

        def forward(self, x):
            return self.net(x)[:, predictor.target:predictor.target + 1] * predictor.scale

    wrapped = Output().eval()
    chosen = sorted({r for g in groups for r in g["rows"]})
    codes = np.ascontiguousarray(np.asarray(ds.X[idx[chosen]], np.uint8))
    attribute = {"ism": interpret.saturation_mutagenesis, "gradient_x_input": interpret.gradient_x_input,
                 "integrated_gradients": lambda m, c: interpret.integrated_gradients(m, c)[0]}[method]
    attr = attribute(wrapped, codes)
    # a reverse-complement model (cnn1d rc: true) scores a sequence and its reverse complement alike,
    # so the other strand's attributions, mapped back, are these: checked on a few, not recomputed
    strand_check = None
    if model.model_spec.get("rc"):
        few = codes[:8]
        strand_check = float(np.abs(interpret.other_strand(attribute(wrapped, _revcomp(few))) - attr[:8]).max())
    # importance of the base present: ISM's change to it is 0 by definition, so centre over the bases
    present = np.take_along_axis(attr, np.minimum(codes, 3)[..., None].astype(np.int64), 2)[..., 0]
    importance = (-attr.mean(axis=2) if method == "ism" else present) * (codes < 4)
    position = {r: k for k, r in enumerate(chosen)}
    ids = np.asarray(ds.ids, dtype=object)[idx[chosen]]
    out_groups, table, figs = [], [], []
    database = jaspar_matrices() if block.motif_width else None
    width = min(block.motif_width or 15, codes.shape[1])
    for g in groups:
        k = np.array([position[r] for r in g["rows"]])
        windows, starts = seqlets(codes[k], g["sign"] * importance[k], width=width)
        entry = {"name": g["name"], "title": g["title"], "n": len(k)}
        if block.motif_width and len(k) >= 5:
            entry["motif"] = _motif(windows, database, seed, tmp / f"figures/motif_{g['name']}.png",
                                    f"discovered from {len(k)} {g['name']} (top {width}-bp windows of importance)")
            figs.append({"file": f"figures/motif_{g['name']}.png", "group": g["name"],
                         "caption": f"Motif discovered in the {g['title']}, beside its best JASPAR match"})
        for rank, (kk, start) in enumerate(zip(k, starts)):
            row = chosen[kk]
            table.append({"id": ids[kk], "group": g["name"], "rank": rank, "label": y[row],
                          "output": scores[row], "window_start": int(start),
                          "window": _letters(codes[kk, start:start + width]),
                          "window_importance": float(g["sign"] * importance[kk, start:start + width].sum())})
        if block.draw:
            shown = []
            for kk, start in list(zip(k, starts))[:block.draw]:
                first = int(max(0, min(start + width // 2 - 30, codes.shape[1] - 60)))
                stop = min(codes.shape[1], first + 60)
                heights = np.zeros((stop - first, 4))
                sl = slice(first, stop)
                known = codes[kk, sl] < 4
                heights[np.flatnonzero(known), codes[kk, sl][known]] = importance[kk, sl][known]
                shown.append((f"{ids[kk]} ({g['name']}, output {scores[chosen[kk]]:.2f})", heights, first))
            file = f"figures/logos_{g['name']}.png"
            (tmp / file).write_bytes(figures.attribution_logos(shown, ylabel="importance"))
            figs.append({"file": file, "group": g["name"],
                         "caption": f"Importance of each base ({method}) in {g['title']}: 60 bp around the "
                                    "strongest window"})
        out_groups.append(entry)
    np.savez_compressed(tmp / "attributions.npz", ids=ids.astype(str), codes=codes, attributions=attr,
                        importance=importance.astype(np.float32))
    pd.DataFrame(table).to_csv(tmp / "top_features.csv", index=False)
    result = {"units": predictor.units, "n_items": len(chosen), "groups": out_groups, "figures": figs,
              "other_strand_max_difference": strand_check}
    if block.optimize_steps:
        result["optimization"] = _evolve(wrapped, codes.shape[1], block, seed, database, tmp, figs, predictor)
    return result


#: shuffled copies of a discovered motif for its null distributions
N_NULL = 200


def _motif(windows: np.ndarray, database, seed: int, figure: Path, title: str) -> dict:
    """The motif of seqlets (N, w), its JASPAR matches and nulls, and its logo beside the best match's."""
    from biodl.interpret import figures
    from biodl.motifs import compare_with_jaspar, pwm_from_seqlets

    pwm = pwm_from_seqlets(windows)
    found = compare_with_jaspar(pwm, database, n_null=N_NULL, seed=seed)
    best = found["matches"][0]
    reference = next(r[3] for r in database if r[0] == best.matrix_id)
    figure.write_bytes(figures.motif_logos([
        (title, pwm),
        (f"best JASPAR match: {best.matrix_id} {best.name} ({best.family}), score {best.score:.2f}", reference)]))
    return {"pwm": pwm.round(4).tolist(), "n_seqlets": len(windows), "width": windows.shape[1],
            "matches": [vars(m) for m in found["matches"]], "percentile": found["percentile"],
            "pair_percentile": found["pair_percentile"], "p_value": found["p_value"], "n_null": N_NULL}


def _revcomp(codes: np.ndarray) -> np.ndarray:
    from biodl.encodings import reverse_complement_codes

    return np.ascontiguousarray(reverse_complement_codes(codes))


def _letters(codes: np.ndarray) -> str:
    return "".join("ACGTN"[c] for c in codes)


def _evolve(module, length: int, block, seed: int, database, tmp: Path, figs: list, predictor) -> dict:
    """Greedy evolution from random sequences; the motif the evolved sequences share."""
    from biodl.interpret import figures, optimize_sequence, saturation_mutagenesis
    from biodl.motifs import seqlets

    rng = np.random.default_rng(seed)
    start = rng.integers(0, 4, size=(block.optimize_starts, length)).astype(np.uint8)
    run = optimize_sequence(module, start, steps=block.optimize_steps)
    evolved = run["codes"]
    importance = -saturation_mutagenesis(module, evolved).mean(axis=2)
    width = min(block.motif_width or 15, length)
    windows, _ = seqlets(evolved, importance, width=width)
    result = {"starts": block.optimize_starts, "steps": block.optimize_steps,
              "output_start": run["scores"][:, 0].tolist(), "output_end": run["scores"][:, -1].tolist(),
              "substitutions": int((run["changes"][..., 0] >= 0).sum()),
              "evolved": [_letters(c) for c in evolved]}
    file = "figures/evolution.png"
    (tmp / file).write_bytes(figures.trajectory(run["scores"], ylabel=predictor.units))
    figs.append({"file": file, "group": "evolution",
                 "caption": f"Greedy in-silico evolution of {block.optimize_starts} random sequences: the output "
                            "after each single-base substitution"})
    if database is not None and len(evolved) >= 5:
        result["motif"] = _motif(windows, database, seed, tmp / "figures/motif_evolved.png",
                                 f"created by evolution ({len(evolved)} sequences, top {width}-bp windows)")
        figs.append({"file": "figures/motif_evolved.png", "group": "evolution",
                     "caption": "The motif the evolved sequences share"})
    return result


# -- molecules ---------------------------------------------------------------------------------------
def _molecules(ds, idx, rows) -> list:
    from biodl.featurizers.molecules import parse_smiles

    inputs = ds.meta["input"].to_numpy()[idx[rows]]
    mols = []
    for smiles in inputs:
        mol, reason = parse_smiles(smiles)
        if mol is None:  # it featurized once: the same RDKit cannot fail now unless the data changed
            raise UserError(f"interpret: {smiles!r} no longer parses ({reason}); featurize again")
        mols.append(mol)
    return mols


def _atom_groups(predictor, ds, idx, block) -> tuple[list[dict], np.ndarray, np.ndarray, list[int]]:
    per_group = max(1, block.items // 3)
    groups, scores, y = _groups(predictor, ds, idx, per_group, errors=True)
    chosen = sorted({r for g in groups for r in g["rows"]})
    return groups, scores, y, chosen


def _fingerprints(predictor, ds, idx, block, method, tmp: Path, *, seed: int) -> dict:
    from biodl.interpret.molecules import atom_weights_from_bits, bit_occlusion

    groups, scores, y, chosen = _atom_groups(predictor, ds, idx, block)
    X = np.asarray(ds.X[idx[chosen]])
    bits = bit_occlusion(predictor, X)
    fp = predictor.model.featurizer_spec or {}
    mols = _molecules(ds, idx, chosen)
    weights = [atom_weights_from_bits(m, bits[k], radius=fp.get("radius", 2), n_bits=fp.get("n_bits", X.shape[1]),
                                      chirality=fp.get("chirality", False)) for k, m in enumerate(mols)]
    rows, cols = np.nonzero(bits)
    extra = {"bit_rows": rows.astype(np.int32), "bit_cols": cols.astype(np.int32),
             "bit_values": bits[rows, cols].astype(np.float32)}

    def top_bits(k):
        on = np.flatnonzero(bits[k])
        order = on[np.argsort(-np.abs(bits[k, on]), kind="stable")][:3]
        return "; ".join(f"bit {b}: {bits[k, b]:+.3g}" for b in order)

    return _write_atoms(predictor, ds, idx, groups, scores, y, chosen, mols, weights, tmp, block,
                        "ECFP bit occlusion: output − output without the bit, each bit's change split over the "
                        "atoms of its environments", extra, top_bits)


def _graphs(predictor, ds, idx, block, method, tmp: Path, *, seed: int) -> dict:
    from biodl.graphs import to_model_input
    from biodl.interpret.molecules import graph_atom_attributions

    groups, scores, y, chosen = _atom_groups(predictor, ds, idx, block)
    model = predictor.model
    device = next(model.module.parameters()).device
    graphs = to_model_input(model.preprocessor.transform_X(_rows(ds.X, idx[chosen])), device)
    attr, error = graph_atom_attributions(model.module, graphs, task=predictor.target)
    weights = [a.astype(np.float64) * predictor.scale for a in attr]
    mols = _molecules(ds, idx, chosen)
    for mol, w in zip(mols, weights):
        if mol.GetNumAtoms() != len(w):
            raise UserError("interpret: a molecule's atoms differ from its stored graph; featurize again")
    summary = _write_atoms(predictor, ds, idx, groups, scores, y, chosen, mols, weights, tmp, block,
                           "integrated gradients over per-atom gates on the D-MPNN's atom features (0: the atom's "
                           "features absent, bonds kept; 1: the molecule)", {"error": error * predictor.scale}, None)
    summary["integration_error"] = {"max_abs": float(np.abs(error).max() * predictor.scale) if len(error) else 0.0}
    return summary


def _write_atoms(predictor, ds, idx, groups, scores, y, chosen, mols, weights, tmp: Path, block, how: str,
                 extra: dict, top_bits) -> dict:
    from rdkit import Chem

    from biodl.interpret.molecules import draw_atom_map

    ids = np.asarray(ds.ids, dtype=object)[idx[chosen]]
    position = {r: k for k, r in enumerate(chosen)}
    table, figs = [], []
    for g in groups:
        for rank, r in enumerate(g["rows"]):
            k = position[r]
            w = weights[k]
            order = np.argsort(-np.abs(w), kind="stable")[:3]
            atoms = "; ".join(f"{mols[k].GetAtomWithIdx(int(a)).GetSymbol()}{int(a)}: {w[a]:+.3g}" for a in order)
            table.append({"id": ids[k], "group": g["name"], "rank": rank, "smiles": Chem.MolToSmiles(mols[k]),
                          "label": y[r], "output": scores[r], "atom_sum": float(w.sum()), "top_atoms": atoms,
                          **({"top_bits": top_bits(k)} if top_bits else {})})
        for rank, r in enumerate(g["rows"][:block.draw]):
            k = position[r]
            measured = "" if np.isnan(y[r]) else f", measured {y[r]:.3g}"
            file = f"figures/molecule_{g['name']}_{rank}.png"
            (tmp / file).write_bytes(draw_atom_map(mols[k], weights[k]))
            figs.append({"file": file, "group": g["name"],
                         "caption": f"{g['title']} #{rank + 1}: {ids[k]} {Chem.MolToSmiles(mols[k])}, output "
                                    f"{scores[r]:.3g}{measured} ({predictor.units})"})
    offsets = np.cumsum([0] + [len(w) for w in weights])
    np.savez_compressed(tmp / "attributions.npz", ids=ids.astype(str),
                        atom_weights=np.concatenate(weights).astype(np.float32) if weights else np.zeros(0, np.float32),
                        atom_offsets=offsets.astype(np.int64), **extra)
    pd.DataFrame(table).to_csv(tmp / "top_features.csv", index=False)
    return {"units": predictor.units, "n_items": len(chosen), "how": how,
            "groups": [{"name": g["name"], "title": g["title"], "n": len(g["rows"])} for g in groups],
            "figures": figs, "legend": "green: the atom raises the output; pink: it lowers it"}


# -- images ------------------------------------------------------------------------------------------
def _images(model, ds, idx, block, method, tmp: Path, *, seed: int = 0) -> dict:
    from biodl.interpret import figures
    from biodl.interpret.images import module_output, occlusion_map, saliency_map, unet_area_output

    rows = idx[:block.items]
    X = np.asarray(ds.X[rows], np.float32)
    if isinstance(model, _Segmenter):
        net = model.fit.net
        output, device = unet_area_output(net), next(net.parameters()).device
        work = X
        if net.scale != 1:  # the network reads the image resized, as it does when it segments
            from biodl.segmentation import resize_images, scaled_shape

            work = resize_images(X, scaled_shape(X.shape, net.scale))
        units = model.units
    else:
        module = model.model.module
        device = next(module.parameters()).device
        output = module_output(module, task=model.target, scale=model.scale, offset=model.offset)
        work, units = X, model.units
    maps = occlusion_map(output, work, window=block.window, stride=block.stride, device=str(device)) \
        if method == "occlusion" else saliency_map(output, work, device=str(device))
    if maps.shape[-2:] != X.shape[-2:]:
        from biodl.segmentation import resize_images

        maps = resize_images(maps[:, None], X.shape[-2:])[:, 0]
    import torch

    with torch.no_grad():
        predicted = np.concatenate([output(torch.from_numpy(work[i:i + 16]).to(device)).float().cpu().numpy()
                                    for i in range(0, len(work), 16)])
    ids = np.asarray(ds.ids, dtype=object)[rows]
    y = np.asarray(ds.y[rows], np.float64)[:, 0] if ds.y.size else np.full(len(rows), np.nan)
    masks = None if ds.masks is None else np.asarray(ds.masks[rows])
    table = []
    for k in range(len(rows)):
        peak = np.unravel_index(int(np.argmax(maps[k])), maps[k].shape)
        entry = {"id": ids[k], "label": y[k], "output": float(predicted[k]), "map_sum": float(maps[k].sum()),
                 "peak_row": int(peak[0]), "peak_col": int(peak[1])}
        if masks is not None:
            positive = np.clip(maps[k], 0, None)
            cells = masks[k] > 0
            entry["cell_pixel_share"] = float(cells.mean())
            entry["positive_on_cells"] = float(positive[cells].sum() / positive.sum()) if positive.sum() > 0 else None
        table.append(entry)
    frame = pd.DataFrame(table)
    frame.to_csv(tmp / "top_features.csv", index=False)
    np.savez_compressed(tmp / "attributions.npz", ids=ids.astype(str), maps=maps.astype(np.float32))
    figs = []
    if block.draw:
        show = np.argsort(-frame["label"].fillna(0).to_numpy(), kind="stable")[:block.draw]
        panels = [(f"{ids[k]}: true {y[k]:.3g}, output {predicted[k]:.3g}", X[k].mean(axis=0), maps[k]) for k in show]
        label = "occlusion: output drop" if method == "occlusion" else "|gradient|"
        file = f"figures/{method}.png"
        (tmp / file).write_bytes(figures.image_maps(panels, label=label, signed=method == "occlusion"))
        figs.append({"file": file, "group": "images",
                     "caption": f"{'Occlusion' if method == 'occlusion' else 'Gradient saliency'} maps of the "
                                f"{len(show)} images with the most cells"})
    summary = {"units": units, "n_items": len(rows), "figures": figs,
               "how": (f"occlusion: the output's drop when a {block.window}-px patch is set to 0, every "
                       f"{block.stride} px" if method == "occlusion" else "largest |gradient| over channels")}
    if masks is not None and "positive_on_cells" in frame:
        share = frame["positive_on_cells"].dropna()
        summary["on_cells"] = {"positive_attribution_on_cells": float(share.mean()) if len(share) else None,
                               "cell_pixel_share": float(frame["cell_pixel_share"].mean())}
    return summary
