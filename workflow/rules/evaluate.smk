rule evaluate:
    input:
        predictions=evaluation_inputs,
        split=lambda wc: split_file(experiment(wc), wc.rep),
        model="results/models/{experiment}/rep{rep}/manifest.json",
        compare_counts=count_comparison_inputs,
    output:
        "results/metrics/{experiment}/rep{rep}.json",
    params:
        task=lambda wc: [f"--task={experiment(wc).task}"] if experiment(wc).task else [],
        compare_counts=count_comparison_args,
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/evaluate/{experiment}/rep{rep}.log",
    benchmark:
        "benchmarks/evaluate/{experiment}/rep{rep}.tsv"
    shell:
        "biodl evaluate --name {wildcards.experiment:q} --predictions {input.predictions:q} --split {input.split:q} "
        "{params.task:q} {params.compare_counts:q} --model-manifest {input.model:q} --replicate {wildcards.rep:q} "
        "--out {output:q} 2> {log:q}"


rule summarize:
    input:
        lambda wc: replicate_metrics(wc.experiment),
    output:
        "results/metrics/{experiment}.json",
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/summarize/{experiment}.log",
    benchmark:
        "benchmarks/summarize/{experiment}.tsv"
    shell:
        "biodl summarize --metrics {input:q} --out {output:q} 2> {log:q}"
