rule simulate_cells:
    output:
        directory(SPEC.simulate_cells.out),
    params:
        seed=SPEC.simulate_cells.seed,
        counts="{}-{}".format(*SPEC.simulate_cells.counts),
        sites=SPEC.simulate_cells.sites,
        blurs=",".join(map(str, SPEC.simulate_cells.blurs)),
        size=SPEC.simulate_cells.size,
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/simulate_cells.log",
    benchmark:
        "benchmarks/simulate_cells.tsv"
    shell:
        "biodl simulate-cells --out {output:q} --seed {params.seed:q} --counts {params.counts:q} "
        "--sites {params.sites:q} --blurs {params.blurs:q} --size {params.size:q} 2> {log:q}"
