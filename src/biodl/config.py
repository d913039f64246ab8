"""Load and validate the workflow config (config/config.yaml) against its JSON schema.

The same schema serves Snakemake (``validate(config, ...)`` in the Snakefile) and the CLI, so a
misspelt key fails the same way in both: one line naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biodl.errors import UserError

SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.yaml"


def _validator():
    import jsonschema
    import yaml

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    base = jsonschema.validators.validator_for(schema)

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(key, sub["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    extended = jsonschema.validators.extend(base, {"properties": set_defaults})
    return extended(schema)


def validate_config(config: dict[str, Any], where: str = "config") -> dict[str, Any]:
    """Fill defaults and check ``config`` in place; raise UserError naming the first bad key."""
    error = next(iter(sorted(_validator().iter_errors(config), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise UserError(f"{where}: {path}: {error.message}")
    for name, dataset in config["datasets"].items():
        for featurizer in dataset["featurizers"]:
            if featurizer not in config["featurizers"]:
                raise UserError(f"{where}: datasets.{name}.featurizers: {featurizer!r} is not defined "
                                f"under featurizers (have: {', '.join(config['featurizers'])})")
    for name, exp in config.get("experiments", {}).items():
        where_exp = f"{where}: experiments.{name}"
        dataset = config["datasets"].get(exp["dataset"])
        if dataset is None:
            raise UserError(f"{where_exp}.dataset: {exp['dataset']!r} is not defined under datasets")
        for featurizer in (exp["featurizer"], exp.get("baseline", {}).get("featurizer", exp["featurizer"])):
            if featurizer not in dataset["featurizers"]:
                raise UserError(f"{where_exp}: featurizer {featurizer!r} is not listed for dataset "
                                f"{exp['dataset']!r} (have: {', '.join(dataset['featurizers'])})")
        if exp["split"] not in dataset.get("splits", {}):
            raise UserError(f"{where_exp}.split: {exp['split']!r} is not defined under "
                            f"datasets.{exp['dataset']}.splits")
        for test_set in exp.get("test_sets", []):
            other = config["datasets"].get(test_set)
            if other is None or exp["featurizer"] not in other["featurizers"]:
                raise UserError(f"{where_exp}.test_sets: {test_set!r} must be a dataset featurized with "
                                f"{exp['featurizer']!r}")
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return validate_config(config, where=str(path))
