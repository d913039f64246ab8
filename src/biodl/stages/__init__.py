"""The pipeline's stages, one module each, in data-flow order; a stage imports only the stages before it.

    featurize  raw inputs                 -> results/features/{dataset}/{featurizer}/   (biodl.dataset)
    split      featurized dataset         -> results/splits/{dataset}/{split}.json
    train      features + split           -> results/models/{experiment}/  (model.pt, history, search, manifest)
    predict    model + features + split   -> results/predictions/{experiment}.parquet
    baseline   features + split           -> results/predictions/{experiment}.baseline.parquet
    evaluate   predictions + split        -> results/metrics/{experiment}.json

Each stage is one function that a CLI command (and so a Snakemake rule) calls; it reads its inputs,
calls the library (biodl.train, biodl.tasks, biodl.uncertainty, biodl.baselines, biodl.metrics)
and writes its output atomically through biodl.io. The prediction table that predict and baseline
write and evaluate reads is biodl.predictions. The test part of a split is read only by predict /
baseline (to write its predictions) and evaluate (to score them).
"""
