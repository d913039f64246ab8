# One rule per simulated set (simulate_cells may be one block or a list): the first is
# simulate_cells, the others simulate_cells_1, simulate_cells_2, ...
for _k, _sim in enumerate(simulated_sets(SPEC)):
    _suffix = f"_{_k}" if _k else ""

    rule:
        name:
            f"simulate_cells{_suffix}"
        output:
            directory(_sim.out),
        params:
            seed=_sim.seed,
            counts="{}-{}".format(*_sim.counts),
            sites=_sim.sites,
            blurs=",".join(map(str, _sim.blurs)),
            # one side (128) or [width, height] given to the CLI as "696x520"
            size=_sim.size if isinstance(_sim.size, int) else "{}x{}".format(*_sim.size),
        conda:
            "../envs/biodl.yaml"
        log:
            f"logs/simulate_cells{_suffix}.log",
        benchmark:
            f"benchmarks/simulate_cells{_suffix}.tsv"
        shell:
            "biodl simulate-cells --out {output:q} --seed {params.seed:q} --counts {params.counts:q} "
            "--sites {params.sites:q} --blurs {params.blurs:q} --size {params.size:q} 2> {log:q}"
