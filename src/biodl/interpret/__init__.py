"""Why a model predicts what it does (the book's Ch. 10), by modality.

* :mod:`biodl.interpret.dna` — DNA models: in-silico saturation mutagenesis, Captum's gradient ×
  input and integrated gradients (both strands of a reverse-complement model), greedy in-silico
  evolution of sequences (:func:`optimize_sequence`);
* :mod:`biodl.interpret.molecules` — molecule models: ECFP bit occlusion mapped back to atoms through
  the bits' environments, integrated gradients over the atoms of a graph model, RDKit similarity maps;
* :mod:`biodl.interpret.images` — image models (counting CNN, U-Net): occlusion and gradient
  saliency maps of the image.

Motifs from DNA attributions and their comparison with JASPAR are in :mod:`biodl.motifs`; the
workflow's stage (which items, what goes to disk, the figures) is :mod:`biodl.stages.interpret`.
"""

from biodl.interpret.dna import (
                                 BASES,
                                 both_strands,
                                 gradient_x_input,
                                 integrated_gradients,
                                 optimize_sequence,
                                 other_strand,
                                 saturation_mutagenesis,
)

__all__ = ["BASES", "both_strands", "gradient_x_input", "integrated_gradients", "optimize_sequence", "other_strand",
           "saturation_mutagenesis"]
