"""`osl fit`: the held-out law, the backtest against the compute baselines, equivalent FLOPs; errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from osltools.cli import main
from osltools.summary import format_number
from osltools.validation import LawOptions, backtest, compute_split
from tests.conftest import load_quietly

WORD = "word_unscrambling_2_exact_match"


def run(*args):
    return CliRunner().invoke(main, ["fit", *args])


@pytest.fixture(scope="module")
def word_output(public_data_dir):
    result = run(WORD, "--dataset", "obsscaling-emergent", "--model-set", "main")
    assert result.exit_code == 0, result.output
    return result


def test_prints_law_backtest_and_equivalent_flops(word_output):
    out = word_output.stdout
    assert f"Held-out fit: {WORD} ~ PC1 + PC2 + PC3" in out
    assert "Law parameters (training models)" in out and "floor in [0, 0.2]" in out
    assert "Held-out errors" in out and "Llama-2-equivalent FLOPs" in out
    for predictor in ("pcs:3", "flops", "size"):
        assert f" {predictor} " in out
    assert "warning: reference family 'Llama-2' has 3 models" in word_output.stderr


def test_printed_errors_are_the_backtest_numbers(word_output, public_data_dir):
    panel = load_quietly("obsscaling-emergent", model_set="main")
    res = backtest(panel, [WORD], predictors=["pcs:3", "flops", "size"], split=compute_split(panel, 8.4e22),
                   law=LawOptions(bounds="floor"))
    for predictor in ("pcs:3", "flops", "size"):
        assert format_number(res.table.loc[(WORD, predictor), "mse"]) in word_output.stdout


def test_options_reach_the_fit(public_data_dir):
    result = run("arithmetic_2dm_2_acc", "--dataset", "obsscaling-emergent", "--model-set", "main",
                 "--exclude-from-pca", "GSM8K", "--cutoff", "2.2e22", "--bounds", "ceiling", "--loss", "huber",
                 "--predictors", "pcs:2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "PCA inputs:" in out and "GSM8K" not in out.split("PCA inputs:")[1].splitlines()[0]
    assert "training FLOPs <= 2.2e+22 train" in out and "huber (f_scale=0.1)" in out
    assert "ceiling in [0.8, 1]" in out and "~ PC1 + PC2" in out


def test_flops_law_has_no_equivalent_table(public_data_dir):
    result = run(WORD, "--dataset", "obsscaling-emergent", "--model-set", "main", "--predictors", "flops")
    assert result.exit_code == 0, result.output
    assert "equivalent FLOPs are its own" in result.stdout and "Llama-2-equivalent FLOPs" not in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["nope"], "error: target 'nope' is not a target of the panel"),
    ([WORD, "--predictors", "pcs:x"], "error: predictor 'pcs:x' is not accepted"),
    ([WORD, "--cutoff", "1"], "leaves no training model"),
    ([WORD, "--exclude-from-pca", "NOPE"], "exclude_from_pca: benchmarks ['NOPE']"),
    ([WORD, "--reference-family", "Nope"], "reference_family='Nope' is not in the data"),
])
def test_errors_are_one_line_without_traceback(public_data_dir, args, message):
    result = run(*args[:1], "--dataset", "obsscaling-emergent", "--model-set", "main", *args[1:])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_usage_errors(public_data_dir):
    assert run(WORD, "--dataset", "obsscaling-emergent", "--bounds", "top").exit_code == 2
    assert run("--dataset", "obsscaling-emergent").exit_code == 2  # no TARGET
