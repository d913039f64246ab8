rule screen_shard:
    input:
        model=lambda wc: f"results/models/{SPEC.screens[wc.screen].experiment}/rep0/model.pt",
        library=lambda wc: SPEC.screens[wc.screen].library,
    output:
        directory("results/screens/{screen}/shard{shard}"),
    params:
        shard=lambda wc: f"{wc.shard}/{SPEC.screens[wc.screen].shards}",
        options=lambda wc: screen_options(SPEC.screens[wc.screen]),
    # one thread: shards are the parallelism (--cores N runs N of them side by side)
    threads: 1
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/screen/{screen}/shard{shard}.log",
    benchmark:
        "benchmarks/screen/{screen}/shard{shard}.tsv"
    shell:
        "biodl screen --model {input.model:q} --library {input.library:q} {params.options:q} "
        "--shard {params.shard:q} --quiet --threads {threads} --out {output:q} 2> {log:q}"


rule screen_gather:
    input:
        lambda wc: [f"results/screens/{wc.screen}/shard{i}" for i in range(SPEC.screens[wc.screen].shards)],
    output:
        directory("results/screens/{screen}/gathered"),
    params:
        picks=lambda wc: SPEC.screens[wc.screen].picks,
        method=lambda wc: SPEC.screens[wc.screen].pick_method,
        seed=SPEC.seed,
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/screen/{screen}/gather.log",
    benchmark:
        "benchmarks/screen/{screen}/gather.tsv"
    shell:
        "biodl screen-gather {input:q} --picks {params.picks:q} --pick-method {params.method:q} "
        "--seed {params.seed:q} --no-report --out {output:q} 2> {log:q}"


rule screen_report:
    input:
        "results/screens/{screen}/gathered",
    output:
        report(
            "results/reports/screens/{screen}.html",
            caption="../report/screen.rst",
            category="Screens",
            labels={"screen": "{screen}"},
        ),
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/screen/{screen}/report.log",
    benchmark:
        "benchmarks/screen/{screen}/report.tsv"
    shell:
        "biodl screen-report {input:q} --name {wildcards.screen:q} --out {output:q} 2> {log:q}"
