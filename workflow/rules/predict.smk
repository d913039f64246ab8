rule predict:
    input:
        model="results/models/{experiment}/rep{rep}/model.pt",
        manifest="results/models/{experiment}/rep{rep}/manifest.json",
        split=lambda wc: split_file(experiment(wc), wc.rep),
        features=lambda wc: f"{features_dir(experiment(wc).dataset, experiment(wc).featurizer)}/manifest.json",
        test_sets=lambda wc: test_set_manifests(experiment(wc), experiment(wc).featurizer),
    output:
        "results/predictions/{experiment}/rep{rep}.parquet",
    params:
        features=lambda wc: features_dir(experiment(wc).dataset, experiment(wc).featurizer),
        test_sets=lambda wc: test_set_args(experiment(wc), experiment(wc).featurizer),
    # one thread: prediction is seconds of work, and a GRU's outputs move in the 7th digit with the
    # thread count (float sums in another order) — one thread keeps them as they were
    threads: 1
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/predict/{experiment}/rep{rep}.log",
    benchmark:
        "benchmarks/predict/{experiment}/rep{rep}.tsv"
    shell:
        "biodl predict --name {wildcards.experiment:q} --model {input.model:q} --features {params.features:q} "
        "--split {input.split:q} {params.test_sets:q} --threads {threads} --out {output:q} 2> {log:q}"


rule baseline:
    input:
        features=lambda wc: f"{features_dir(experiment(wc).dataset, baseline_featurizer(experiment(wc)))}/manifest.json",
        split=lambda wc: split_file(experiment(wc), wc.rep),
        test_sets=lambda wc: test_set_manifests(experiment(wc), baseline_featurizer(experiment(wc))),
    output:
        "results/predictions/{experiment}/rep{rep}.baseline.parquet",
    params:
        features=lambda wc: features_dir(experiment(wc).dataset, baseline_featurizer(experiment(wc))),
        # only what the baseline reads: changing the deep model's settings must not retrain it
        spec=lambda wc: as_json({k: v for k, v in experiment(wc).dump().items() if k in ("task", "baseline")}),
        test_sets=lambda wc: test_set_args(experiment(wc), baseline_featurizer(experiment(wc))),
        seed=replicate_seed,
    threads: N_JOBS
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/baseline/{experiment}/rep{rep}.log",
    benchmark:
        "benchmarks/baseline/{experiment}/rep{rep}.tsv"
    shell:
        "biodl baseline --name {wildcards.experiment:q} --experiment {params.spec:q} "
        "--features {params.features:q} --split {input.split:q} {params.test_sets:q} --seed {params.seed:q} "
        "--n-jobs {threads} --out {output:q} 2> {log:q}"
