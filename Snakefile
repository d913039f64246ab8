# biodl workflow: raw molecules, DNA and cell images -> featurized datasets -> splits -> models
# (search on validation) + baselines -> predictions with uncertainty -> metrics -> HTML reports.
# Rules are thin: each calls the biodl CLI.
from snakemake.utils import min_version, validate

min_version("8.20")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/featurize.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_feature_sets(),
        all_metrics(),
        all_reports(),
    default_target: True


rule features:
    input:
        all_feature_sets(),
