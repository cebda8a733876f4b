"""`osl interventions`: gap curves with bootstrap bands from the command line; options; errors."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from click.testing import CliRunner

from osltools import interventions
from osltools.cli import main
from osltools.exceptions import OSLWarning
from osltools.summary import format_number
from tests.conftest import load_quietly

PUBLIC = ["--dataset", "obsscaling-post-training", "--model-set", "main"]
GSM8K = ["--base", "gsm8k_5", "--intervention", "CoT=gsm8k_cot", "--intervention", "CoT+SC=gsm8k_cot_sc"]


def run(*args):
    return CliRunner().invoke(main, ["interventions", *args])


@pytest.fixture(scope="module")
def public_output(public_data_dir, tmp_path_factory):
    csv = tmp_path_factory.mktemp("cli") / "curves.csv"
    result = run(*PUBLIC, *GSM8K, "--bootstrap", "6", "--seed", "3", "--csv", str(csv))
    assert result.exit_code == 0, result.output
    return result, csv


def test_prints_the_summary_and_writes_the_curves(public_output):
    result, csv = public_output
    out = result.stdout
    assert "Post-training interventions: gap curves over equivalent FLOPs" in out
    for part in ("Growth of the gap", "Where the gap is significantly positive", "Peak of the gap",
                 "Contrasts of growth", "Weights in benchmark space", "CoT+SC - CoT"):
        assert part in out
    assert "warning: reference family 'Llama-2' has 3 models" in result.stderr
    assert len(pd.read_csv(csv)) == 6 * 50


def test_printed_numbers_are_the_api_s(public_output):
    result, csv = public_output
    panel = load_quietly("obsscaling-post-training", model_set="main")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        res = interventions.compare_interventions(panel, n_boot=6, seed=3)
    for value in res.growth_tests()["growth"]:
        assert format_number(value) in result.stdout
    pd.testing.assert_frame_equal(pd.read_csv(csv), res.tidy().astype({"within_reference": bool}), check_dtype=False,
                                  rtol=1e-12)


def test_options_reach_compare_interventions(monkeypatch, public_data_dir):
    seen = {}

    def fake(panel, **options):
        seen.update(options, n_models=panel.n_models)
        raise interventions.FitError("stop here")

    monkeypatch.setattr(interventions, "compare_interventions", fake)
    result = run(*PUBLIC, "--base", "gsm8k_5", "--intervention", "CoT=gsm8k_cot", "--bootstrap", "50",
                 "--n-jobs", "2", "--scheduler", "tcp://10.0.0.1:8786", "--seed", "9", "--reference-family", "Llama",
                 "--reference-resampling", "fixed", "--k", "2", "--bounds", "ceiling", "--loss", "linear",
                 "--alpha", "0.1")
    assert result.exit_code == 1 and "error: stop here" in result.stderr
    assert seen["n_models"] == 77 and seen["interventions"] == {"CoT": "gsm8k_cot"} and seen["n_boot"] == 50
    assert (seen["backend"], seen["scheduler"], seen["n_jobs"], seen["seed"]) == ("dask", "tcp://10.0.0.1:8786", 2, 9)
    assert (seen["reference_family"], seen["reference_resampling"], seen["n_components"]) == ("Llama", "fixed", 2)
    assert (seen["law"].bounds, seen["law"].loss, seen["alpha"]) == ("ceiling", "linear", 0.1)


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--base", "nope", "--intervention", "CoT=gsm8k_cot"], 1, "error: target 'nope' is not a target"),
        (["--base", "gsm8k_5", "--intervention", "CoT=gsm8k_5"], 1, "error: intervention 'CoT' = 'gsm8k_5' is the base"),
        (["--base", "gsm8k_5", "--intervention", "CoT=gsm8k_cot", "--reference-family", "Nope"], 1,
         "error: reference_family='Nope' is not in the panel"),
        (["--base", "gsm8k_5", "--intervention", "CoT=gsm8k_cot", "--bootstrap", "1"], 1, "error: n_boot=1"),
        (["--base", "gsm8k_5", "--intervention", "gsm8k_cot"], 2, "is not LABEL=COLUMN"),
        (["--base", "gsm8k_5", "--intervention", "a=gsm8k_cot", "--intervention", "a=gsm8k_cot_sc"], 2,
         "label 'a' is given twice"),
        (["--base", "gsm8k_5"], 2, "Missing option '--intervention'"),
    ],
)
def test_errors_are_one_line_without_traceback(public_data_dir, args, code, text):
    result = run(*PUBLIC, *args)
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "Traceback" not in result.output
