rule split:
    input:
        lambda wc: f"{features_dir(wc.dataset, reference_featurizer(wc.dataset))}/manifest.json",
    output:
        "results/splits/{dataset}/{split}.json",
    params:
        features=lambda wc: features_dir(wc.dataset, reference_featurizer(wc.dataset)),
        spec=lambda wc: quoted_json(config["datasets"][wc.dataset]["splits"][wc.split]),
        seed=config["seed"],
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/split/{dataset}/{split}.log",
    benchmark:
        "benchmarks/split/{dataset}/{split}.tsv"
    shell:
        "biodl split --features {params.features} --spec {params.spec} --seed {params.seed} "
        "--dataset {wildcards.dataset} --out {output} 2> {log}"
