rule train:
    input:
        features=lambda wc: f"{features_dir(experiment(wc).dataset, experiment(wc).featurizer)}/manifest.json",
        split=lambda wc: split_file(experiment(wc), wc.rep),
    output:
        manifest="results/models/{experiment}/rep{rep}/manifest.json",
        model="results/models/{experiment}/rep{rep}/model.pt",
    params:
        out=lambda wc, output: os.path.dirname(output.manifest),
        features=lambda wc: features_dir(experiment(wc).dataset, experiment(wc).featurizer),
        # what training reads: the baseline, free text, extra test sets and interpretation do not retrain the model
        spec=lambda wc: as_json(
            {
                k: v
                for k, v in experiment(wc).dump().items()
                if k not in ("baseline", "description", "test_sets", "replicates", "compare_counts", "interpret")
            }
        ),
        seed=replicate_seed,
        # progress lines on the console (stdout) name the replicate; the log keeps every epoch
        label=lambda wc: f"{wc.experiment}/rep{wc.rep}",
    threads: N_JOBS
    resources:
        # `gpu: true` in an experiment: one GPU and this job's threads as CPUs per GPU (the SLURM
        # executor turns these into --gpus=1 --cpus-per-gpu=N); partitions / accounts: user's profile
        gpu=lambda wc: 1 if experiment(wc).gpu else 0,
        cpus_per_gpu=lambda wc, threads: threads if experiment(wc).gpu else 0,
    conda:
        "../envs/biodl.yaml"
    log:
        "logs/train/{experiment}/rep{rep}.log",
    benchmark:
        "benchmarks/train/{experiment}/rep{rep}.tsv"
    shell:
        "BIODL_EXPECT_GPU={resources.gpu} "
        "biodl train --name {wildcards.experiment:q} --experiment {params.spec:q} "
        "--features {params.features:q} --split {input.split:q} --seed {params.seed:q} --threads {threads} "
        "--progress-label {params.label:q} --verbose --out {params.out:q} 2> {log:q}"
