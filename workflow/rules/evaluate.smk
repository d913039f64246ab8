rule evaluate:
    input:
        predictions=evaluation_inputs,
        split=lambda wc: split_file(experiment(wc)),
        model="results/models/{experiment}/manifest.json",
    output:
        "results/metrics/{experiment}.json",
    params:
        task=lambda wc: f"--task {experiment(wc)['task']}" if "task" in experiment(wc) else "",
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/evaluate/{experiment}.log",
    benchmark:
        "benchmarks/evaluate/{experiment}.tsv"
    shell:
        "biodl evaluate --name {wildcards.experiment} --predictions {input.predictions} --split {input.split} "
        "{params.task} --model-manifest {input.model} --out {output} 2> {log}"
