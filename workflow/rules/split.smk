rule split:
    input:
        lambda wc: f"{features_dir(wc.dataset, reference_featurizer(wc.dataset))}/manifest.json",
    output:
        "results/splits/{dataset}/{split}/rep{rep}.json",
    params:
        features=lambda wc: features_dir(wc.dataset, reference_featurizer(wc.dataset)),
        spec=lambda wc: as_json(SPEC.datasets[wc.dataset].splits[wc.split].dump()),
        seed=replicate_seed,
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/split/{dataset}/{split}/rep{rep}.log",
    benchmark:
        "benchmarks/split/{dataset}/{split}/rep{rep}.tsv"
    shell:
        "biodl split --features {params.features:q} --spec {params.spec:q} --seed {params.seed:q} "
        "--dataset {wildcards.dataset:q} --out {output:q} 2> {log:q}"
