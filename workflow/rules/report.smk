rule report:
    wildcard_constraints:
        experiment=r"(?!index\.html$)[A-Za-z0-9_-]+",  # index.html is the leaderboard
    input:
        # the summary over replicates; figures show replicate 0
        metrics="results/metrics/{experiment}.json",
        predictions=lambda wc: evaluation_inputs(wc, rep=0),
        model="results/models/{experiment}/rep0/manifest.json",
        split=lambda wc: split_file(experiment(wc), 0),
        features=lambda wc: f"{features_dir(experiment(wc).dataset, experiment(wc).featurizer)}/manifest.json",
        compare_counts=lambda wc: count_comparison_inputs(wc, rep=0),
        interpretation=interpretation_inputs,
    output:
        report(
            "results/reports/{experiment}.html",
            caption="../report/experiment.rst",
            category="Experiments",
            labels={"experiment": "{experiment}"},
        ),
    params:
        model_dir=lambda wc, input: os.path.dirname(input.model),
        features=lambda wc, input: os.path.dirname(input.features),
        spec=lambda wc: as_json(experiment(wc).dump()),
        compare_counts=lambda wc: count_comparison_args(wc, rep=0),
        interpretation=interpretation_args,
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/report/{experiment}.log",
    benchmark:
        "benchmarks/report/{experiment}.tsv"
    shell:
        "biodl report --name {wildcards.experiment:q} --metrics {input.metrics:q} "
        "--predictions {input.predictions:q} --model-dir {params.model_dir:q} --split {input.split:q} "
        "--features {params.features:q} --experiment {params.spec:q} {params.compare_counts:q} "
        "{params.interpretation:q} --out {output:q} 2> {log:q}"


rule leaderboard:
    input:
        all_metrics(),
    output:
        report("results/reports/index.html", caption="../report/index.rst", category="Leaderboard"),
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/report/index.log",
    benchmark:
        "benchmarks/report/index.tsv"
    shell:
        "biodl leaderboard --metrics {input:q} --out {output:q} 2> {log:q}"
