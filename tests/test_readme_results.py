"""README's result tables are generated from result files (bench/readme_results.py), never typed."""

import importlib.util
import json

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("readme_results", ROOT / "bench" / "readme_results.py")
readme_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_results)


def test_readme_tables_equal_what_the_result_files_give():
    assert readme_results.main(["check"]) == 0


def test_a_number_typed_into_the_table_is_caught():
    text = (ROOT / "README.md").read_text()
    begin = text.index("<!-- BEGIN default-results")
    row = text.index("\n| ", text.index("|---", begin)) + 1
    cells = text[row:text.index("\n", row)].split(" | ")
    number = next(c for c in cells if c.startswith(("rmse ", "roc_auc ")))
    edited = text[:row] + text[row:].replace(number, number.split(" ")[0] + " 0.123", 1)
    assert edited != text
    assert readme_results.render(edited) == text


def _summary(values, baseline, n_rep):
    import numpy as np

    def scores(vals):
        return {"mean": {"rmse": float(np.mean(vals))}, "sd": {"rmse": float(np.std(vals, ddof=1)) if n_rep > 1 else 0.0},
                "interval": {"rmse": [min(vals) - 0.1, max(vals) + 0.1]}, "n_items": [64] * n_rep}

    return {"experiment": "fs", "primary_metric": "rmse", "deep_model": "mlp", "n_replicates": n_rep,
            "split": {"method": "random"},
            "models": {"mlp": {"test": scores(values), "solubility_test": scores(values)},
                       "random_forest": {"test": scores(baseline)}},
            "comparisons": {"test": {"verdict": "better", "difference": -0.2, "interval": [-0.3, -0.1]}},
            "warnings": [{"code": "small_test"}, {"code": "small_test"}]}


def test_table_shows_mean_sd_interval_verdict_and_warnings():
    table = readme_results.default_results_table([_summary([1.0, 1.2, 0.8], [1.3, 1.4, 1.2], 3)])
    deep, base = table.splitlines()[2:4]
    assert "| fs | random | 3 | 64 | mlp | rmse 1.000 ± 0.200 | [0.700, 1.300] |" in deep
    assert "solubility_test: 1.000 ± 0.200" in deep
    assert "better: -0.200 [-0.300, -0.100]" in deep and deep.endswith("| small_test |")
    assert "random_forest (baseline) | rmse 1.300 ± 0.100" in base and "better" not in base
    single = readme_results.default_results_table([_summary([1.0], [1.3], 1)])
    assert "rmse 1.000 |" in single and "±" not in "\n".join(single.splitlines()[2:])
    json.dumps(_summary([1.0], [1.3], 1))  # the shape is plain JSON, as the snapshot files are
