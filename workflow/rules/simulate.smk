rule simulate_cells:
    output:
        directory(config["simulate_cells"]["out"]),
    params:
        seed=config["simulate_cells"]["seed"],
        counts="{}-{}".format(*config["simulate_cells"]["counts"]),
        sites=config["simulate_cells"]["sites"],
        blurs=",".join(map(str, config["simulate_cells"]["blurs"])),
        size=config["simulate_cells"]["size"],
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/simulate_cells.log",
    benchmark:
        "benchmarks/simulate_cells.tsv"
    shell:
        "biodl simulate-cells --out {output} --seed {params.seed} --counts {params.counts} "
        "--sites {params.sites} --blurs {params.blurs} --size {params.size} 2> {log}"
