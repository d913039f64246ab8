rule predict:
    input:
        model="results/models/{experiment}/manifest.json",
        split=lambda wc: split_file(experiment(wc)),
        test_sets=lambda wc: test_set_manifests(experiment(wc), experiment(wc)["featurizer"]),
    output:
        "results/predictions/{experiment}.parquet",
    params:
        features=lambda wc: features_dir(experiment(wc)["dataset"], experiment(wc)["featurizer"]),
        test_sets=lambda wc: test_set_args(experiment(wc), experiment(wc)["featurizer"]),
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/predict/{experiment}.log",
    benchmark:
        "benchmarks/predict/{experiment}.tsv"
    shell:
        "biodl predict --name {wildcards.experiment} --model results/models/{wildcards.experiment}/model.pt "
        "--features {params.features} --split {input.split} {params.test_sets} --out {output} 2> {log}"


rule baseline:
    input:
        features=lambda wc: f"{features_dir(experiment(wc)['dataset'], baseline_featurizer(experiment(wc)))}/manifest.json",
        split=lambda wc: split_file(experiment(wc)),
        test_sets=lambda wc: test_set_manifests(experiment(wc), baseline_featurizer(experiment(wc))),
    output:
        "results/predictions/{experiment}.baseline.parquet",
    params:
        features=lambda wc: features_dir(experiment(wc)["dataset"], baseline_featurizer(experiment(wc))),
        # only what the baseline reads: changing the deep model's settings must not retrain it
        spec=lambda wc: quoted_json({k: v for k, v in experiment(wc).items() if k in ("task", "baseline")}),
        test_sets=lambda wc: test_set_args(experiment(wc), baseline_featurizer(experiment(wc))),
        seed=config["seed"],
    threads: config["n_jobs"]
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/baseline/{experiment}.log",
    benchmark:
        "benchmarks/baseline/{experiment}.tsv"
    shell:
        "biodl baseline --name {wildcards.experiment} --experiment {params.spec} --features {params.features} "
        "--split {input.split} {params.test_sets} --seed {params.seed} --n-jobs {threads} --out {output} 2> {log}"
