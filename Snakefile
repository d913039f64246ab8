# biodl workflow: raw molecules, DNA and cell images -> featurized datasets (and, in later stages,
# splits, models, predictions, metrics and reports). Rules are thin: each calls the biodl CLI.
from snakemake.utils import min_version, validate

min_version("8.20")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/featurize.smk"


rule all:
    input:
        all_feature_sets(),
    default_target: True
