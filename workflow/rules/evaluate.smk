rule evaluate:
    input:
        predictions=evaluation_inputs,
        split=lambda wc: split_file(experiment(wc)),
        model="results/models/{experiment}/manifest.json",
    output:
        "results/metrics/{experiment}.json",
    params:
        task=lambda wc: [f"--task={experiment(wc).task}"] if experiment(wc).task else [],
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/evaluate/{experiment}.log",
    benchmark:
        "benchmarks/evaluate/{experiment}.tsv"
    shell:
        "biodl evaluate --name {wildcards.experiment:q} --predictions {input.predictions:q} --split {input.split:q} "
        "{params.task:q} --model-manifest {input.model:q} --out {output:q} 2> {log:q}"
