# biodl workflow: raw molecules, DNA and cell images -> featurized datasets -> splits -> models
# (search on validation) + baselines -> predictions -> metrics. Rules are thin: each calls the biodl CLI.
from snakemake.utils import min_version, validate

min_version("8.20")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/featurize.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    input:
        all_feature_sets(),
        all_metrics(),
    default_target: True


rule features:
    input:
        all_feature_sets(),
