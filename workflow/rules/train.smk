rule train:
    input:
        features=lambda wc: f"{features_dir(experiment(wc)['dataset'], experiment(wc)['featurizer'])}/manifest.json",
        split=lambda wc: split_file(experiment(wc)),
    output:
        manifest="results/models/{experiment}/manifest.json",
    params:
        out="results/models/{experiment}",
        features=lambda wc: features_dir(experiment(wc)["dataset"], experiment(wc)["featurizer"]),
        # what training reads: the baseline, free text and extra test sets do not retrain the model
        spec=lambda wc: quoted_json(
            {k: v for k, v in experiment(wc).items() if k not in ("baseline", "description", "test_sets")}
        ),
        seed=config["seed"],
    threads: config["n_jobs"]
    resources:
        # `gpu: true` in an experiment: one GPU and this job's threads as CPUs per GPU (the SLURM
        # executor turns these into --gpus=1 --cpus-per-gpu=N); partitions / accounts: user's profile
        gpu=lambda wc: 1 if experiment(wc).get("gpu") else 0,
        cpus_per_gpu=lambda wc, threads: threads if experiment(wc).get("gpu") else 0,
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/train/{experiment}.log",
    benchmark:
        "benchmarks/train/{experiment}.tsv"
    shell:
        "BIODL_EXPECT_GPU={resources.gpu} OMP_NUM_THREADS={threads} "
        "biodl train --name {wildcards.experiment} --experiment {params.spec} "
        "--features {params.features} --split {input.split} --seed {params.seed} --verbose "
        "--out {params.out} 2> {log}"
