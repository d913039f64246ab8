rule train:
    input:
        features=lambda wc: f"{features_dir(experiment(wc)['dataset'], experiment(wc)['featurizer'])}/manifest.json",
        split=lambda wc: split_file(experiment(wc)),
    output:
        manifest="results/models/{experiment}/manifest.json",
    params:
        out="results/models/{experiment}",
        features=lambda wc: features_dir(experiment(wc)["dataset"], experiment(wc)["featurizer"]),
        spec=lambda wc: quoted_json(experiment(wc)),
        seed=config["seed"],
    threads: config["n_jobs"]
    resources:
        gpu=lambda wc: 1 if experiment(wc).get("gpu") else 0,
    log:
        "logs/train/{experiment}.log",
    benchmark:
        "benchmarks/train/{experiment}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} biodl train --name {wildcards.experiment} --experiment {params.spec} "
        "--features {params.features} --split {input.split} --seed {params.seed} --verbose "
        "--out {params.out} 2> {log}"
