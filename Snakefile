# biodl workflow: raw molecules, DNA and cell images -> featurized datasets -> splits -> models
# (search on validation) + baselines -> predictions with uncertainty -> metrics -> HTML reports.
# Rules are thin: each calls the biodl CLI with its part of the checked spec, every value quoted.
from snakemake.utils import min_version, validate

from biodl.spec import simulated_sets, workflow_spec

min_version("8.20")


# A config given with --configfile replaces the demo config instead of merging into it (a user's
# own experiments must not bring the seven demo ones along); --config KEY=VALUE still amends it.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# The whole config is checked here, before Snakemake plans anything: a mistake is one line naming
# its key path, exit code 2. The rules read SPEC, never the raw dict.
SPEC = workflow_spec(config)


# the schema is generated from the same spec (python -m biodl.spec), so Snakemake's own check agrees;
# no defaults from it: a block's defaults are its class's, applied by biodl itself
validate(config, "workflow/schemas/config.schema.yaml", set_default=False)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/featurize.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/screen.smk"


rule all:
    input:
        all_feature_sets(),
        all_metrics(),
        all_reports(),
        all_screens(),
    default_target: True


rule features:
    input:
        all_feature_sets(),
