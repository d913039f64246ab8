rule featurize:
    input:
        source_inputs,
    output:
        manifest="results/features/{dataset}/{featurizer}/manifest.json",
    params:
        out=lambda wc: f"results/features/{wc.dataset}/{wc.featurizer}",
        source=lambda wc: quoted_json(config["datasets"][wc.dataset]["source"]),
        featurizer=lambda wc: quoted_json(config["featurizers"][wc.featurizer]),
    threads: config["n_jobs"]
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/featurize/{dataset}/{featurizer}.log",
    benchmark:
        "benchmarks/featurize/{dataset}/{featurizer}.tsv"
    shell:
        "biodl featurize --source {params.source} --featurizer {params.featurizer} "
        "--dataset {wildcards.dataset} --n-jobs {threads} --out {params.out} 2> {log}"
