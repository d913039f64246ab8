rule interpret:
    input:
        model="results/models/{experiment}/rep0/model.pt",
        manifest="results/models/{experiment}/rep0/manifest.json",
        split=lambda wc: split_file(experiment(wc), 0),
        features=lambda wc: f"{features_dir(experiment(wc).dataset, experiment(wc).featurizer)}/manifest.json",
        test_sets=lambda wc: test_set_manifests(experiment(wc), experiment(wc).featurizer),
    output:
        directory("results/interpret/{experiment}"),
    params:
        features=lambda wc: features_dir(experiment(wc).dataset, experiment(wc).featurizer),
        test_sets=lambda wc: test_set_args(experiment(wc), experiment(wc).featurizer),
        spec=lambda wc: as_json(experiment(wc).interpret.dump()),
        seed=SPEC.seed,
    # one thread, as predict: attributions are forward passes of replicate 0's model
    threads: 1
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/interpret/{experiment}.log",
    benchmark:
        "benchmarks/interpret/{experiment}.tsv"
    shell:
        "biodl interpret --name {wildcards.experiment:q} --model {input.model:q} --features {params.features:q} "
        "--split {input.split:q} {params.test_sets:q} --interpret {params.spec:q} --seed {params.seed} "
        "--threads {threads} --out {output:q} 2> {log:q}"
