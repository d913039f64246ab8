rule featurize:
    input:
        source_inputs,
    output:
        manifest="results/features/{dataset}/{featurizer}/manifest.json",
    params:
        out=lambda wc: features_dir(wc.dataset, wc.featurizer),
        source=lambda wc: as_json(SPEC.datasets[wc.dataset].source.dump()),
        featurizer=lambda wc: as_json(SPEC.featurizers[wc.featurizer].dump()),
    threads: N_JOBS
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/featurize/{dataset}/{featurizer}.log",
    benchmark:
        "benchmarks/featurize/{dataset}/{featurizer}.tsv"
    shell:
        "biodl featurize --source {params.source:q} --featurizer {params.featurizer:q} "
        "--dataset {wildcards.dataset:q} --n-jobs {threads} --out {params.out:q} 2> {log:q}"
