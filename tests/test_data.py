import warnings

import numpy as np
import pandas as pd
import pytest

from osltools.data import Panel, derive_compute
from osltools.exceptions import ConfigError, DataValidationError, JoinWarning, PlausibilityWarning


def make(scores=None, meta=None, **kwargs):
    scores = scores if scores is not None else pd.DataFrame(
        {"MMLU": [0.3, 0.5, 0.7], "ARC-C": [0.35, 0.55, np.nan]}, index=["a/x", "b/y", "c/z"]
    )
    meta = meta if meta is not None else pd.DataFrame(
        {"family": ["F", "F", "G"], "params_b": [1.0, 7.0, 13.0], "tokens_t": [0.3, 2.0, 2.0]},
        index=["a/x", "b/y", "c/z"],
    )
    return Panel(scores, meta, **kwargs)


def test_derived_columns_and_units():
    panel = make()
    meta = panel.meta
    assert meta.at["b/y", "flops"] == pytest.approx(6 * 7e9 * 2e12, rel=1e-12)
    assert meta.at["b/y", "log10_flops"] == pytest.approx(np.log10(8.4e22), rel=1e-12)
    assert set(meta["flops_source"]) == {"6ND"}


def test_flops_source_reported_6nd_missing():
    meta = pd.DataFrame(
        {"family": ["F", "F", "G"], "params_b": [1.0, 7.0, 13.0], "tokens_t": [0.3, np.nan, 2.0],
         "flops": [1.8e21, np.nan, np.nan]},
        index=["a/x", "b/y", "c/z"],
    )
    out = derive_compute(meta.assign(flops_source=None))
    assert list(out["flops_source"]) == ["reported", "missing", "6ND"]
    assert np.isnan(out.at["b/y", "log10_flops"])


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("abc", ["'a/x'", "'MMLU'", "'abc'", "not a number"]),
        (1.7, ["'a/x'", "'MMLU'", "1.7", "outside [0, 1]", "scale=100"]),
        (-0.1, ["'a/x'", "'MMLU'", "-0.1", "outside [0, 1]"]),
    ],
)
def test_bad_score_names_model_column_value(cell, expected):
    scores = pd.DataFrame({"MMLU": [cell, 0.5, 0.7], "ARC-C": [0.3, 0.5, 0.6]}, index=["a/x", "b/y", "c/z"], dtype=object)
    with pytest.raises(DataValidationError) as info:
        make(scores)
    for text in expected:
        assert text in str(info.value)
    assert info.value.problems[0].model == "a/x" and info.value.problems[0].column == "MMLU"


def test_percent_scale_is_explicit():
    scores = pd.DataFrame({"MMLU": [30.0, 50.0, 70.0]}, index=["a/x", "b/y", "c/z"])
    with pytest.raises(DataValidationError):
        make(scores)
    panel = make(scores, scale=100)
    np.testing.assert_allclose(panel.scores["MMLU"], [0.3, 0.5, 0.7], rtol=1e-12)


def test_duplicate_models_empty_column_empty_model_all_reported():
    scores = pd.DataFrame(
        {"MMLU": [0.3, 0.4, np.nan, 0.5], "ARC-C": [0.3, 0.4, np.nan, 0.5], "Empty": [np.nan] * 4},
        index=["a/x", "a/x", "b/y", "c/z"],
    )
    with pytest.raises(DataValidationError) as info:
        Panel(scores)
    assert "'a/x' appears more than once" in str(info.value)
    scores.index = ["a/x", "d/w", "b/y", "c/z"]
    with pytest.raises(DataValidationError) as info:
        Panel(scores)
    messages = [str(p) for p in info.value.problems]
    assert any("'Empty' has no value for any model" in m for m in messages)
    assert any("'b/y' has no benchmark score at all" in m for m in messages)
    assert len(messages) == 2


@pytest.mark.parametrize("column, value", [("params_b", 0.0), ("tokens_t", -1.0), ("flops", 0.0)])
def test_non_positive_sizes(column, value):
    meta = pd.DataFrame({"family": ["F"] * 3, "params_b": [1.0, 7.0, 13.0], "tokens_t": [1.0, 2.0, 2.0]},
                        index=["a/x", "b/y", "c/z"])
    meta.loc["b/y", column] = value
    with pytest.raises(DataValidationError) as info:
        make(meta=meta)
    assert f"'b/y', '{column}'" in str(info.value) and "not positive" in str(info.value)


def test_non_numeric_metadata():
    meta = pd.DataFrame({"family": ["F"] * 3, "params_b": ["1", "seven", "13"]}, index=["a/x", "b/y", "c/z"])
    with pytest.raises(DataValidationError, match="'b/y'.*'params_b'.*'seven'"):
        make(meta=meta)


def test_plausibility_flags():
    meta = pd.DataFrame(
        {"family": ["F", "F", "G"], "params_b": [3.0, 7.0, 13.0], "tokens_t": [627.0, 2.0, 2.0],
         "flops": [np.nan, 8.4e22 * 3, np.nan]},
        index=["a/x", "b/y", "c/z"],
    )
    flags = make(meta=meta).plausibility
    assert set(flags["check"]) == {"tokens_per_param", "flops_vs_6nd", "single_model_family"}
    assert flags.set_index("check").at["tokens_per_param", "model"] == "a/x"
    assert flags.set_index("check").at["flops_vs_6nd", "model"] == "b/y"
    assert flags.set_index("check").at["single_model_family", "family"] == "G"
    with pytest.warns(PlausibilityWarning, match="3 plausibility flags"):
        make(meta=meta).warn_plausibility()
    assert any("tokens per parameter" in n for n in make(meta=meta).summary().notes)


def test_immutable_and_selection_returns_new_panel():
    panel = make()
    with pytest.raises(AttributeError):
        panel.name = "x"
    view = panel.scores
    view.iloc[0, 0] = 0.99
    assert panel.scores.iloc[0, 0] == 0.3
    sub = panel.select(["c/z", "a/x"], benchmarks=["MMLU"])
    assert list(sub.models) == ["c/z", "a/x"] and list(sub.benchmarks) == ["MMLU"]
    assert panel.shape == (3, 2)
    assert list(panel.select(families=["F"]).models) == ["a/x", "b/y"]
    assert list(panel.drop(["b/y"]).models) == ["a/x", "c/z"]
    with pytest.raises(ConfigError, match="unknown models"):
        panel.select(["nope"])
    with pytest.raises(DataValidationError, match="'ARC-C' has no value"):
        panel.select(["c/z"])


def test_targets_join_reports_unmatched_models():
    panel = make()
    targets = pd.DataFrame({"task": [0.1, 0.9]}, index=["a/x", "zz/unknown"])
    with pytest.warns(JoinWarning, match="1 in targets.*zz/unknown.*2 panel models have no row"):
        joined = panel.with_targets(targets)
    report = joined.join_reports[-1]
    assert report.only_in_other == ("zz/unknown",) and set(report.only_in_panel) == {"b/y", "c/z"}
    assert joined.targets.loc["a/x", "task"] == 0.1 and np.isnan(joined.targets.loc["b/y", "task"])
    assert joined.n_models == 3
    assert "task" in joined.frame().columns
    with pytest.raises(DataValidationError, match="'a/x'.*'task'.*'n/a!'"):
        panel.with_targets(pd.DataFrame({"task": ["n/a!"]}, index=["a/x"]))
    scaled = panel.with_targets(pd.DataFrame({"bleu": [50.0, 20.0, 10.0]}, index=panel.models), scale={"bleu": 100})
    np.testing.assert_allclose(scaled.targets["bleu"], [0.5, 0.2, 0.1], rtol=1e-12)


def test_metadata_join_reported():
    meta = pd.DataFrame({"family": ["F", "F", "G"]}, index=["a/x", "b/y", "q/extra"])
    panel = make(meta=meta)
    (report,) = panel.join_reports
    assert report.only_in_other == ("q/extra",) and report.only_in_panel == ("c/z",)
    assert pd.isna(panel.meta.at["c/z", "family"])


def test_summary_and_repr():
    panel = make(name="toy")
    assert repr(panel) == "<Panel 'toy': 3 models x 2 benchmarks, 2 families, 0 targets>"
    text = str(panel)
    assert "Missingness per benchmark" in text and "ARC-C" in text
    assert panel.missingness().loc["ARC-C", "missing"] == 1
    assert "<table" in panel.summary().as_html()
    assert "| benchmark |" in panel.summary().as_markdown()


def test_bad_scale():
    with pytest.raises(ConfigError, match="scale=0"):
        make(scale=0)


def test_resample_renames_repeats_keeps_source_and_carries_everything():
    stderr = pd.DataFrame({"MMLU": [0.01, 0.02, 0.03], "ARC-C": [0.01, 0.02, np.nan]}, index=["a/x", "b/y", "c/z"])
    targets = pd.DataFrame({"gsm8k_cot": [0.1, 0.2, 0.3]}, index=["a/x", "b/y", "c/z"])
    panel = make(stderr=stderr, targets=targets)
    out = panel.resample([1, 0, 1, 1, 2])
    assert list(out.models) == ["b/y", "a/x", "b/y#2", "b/y#3", "c/z"]
    assert list(out.meta["source_model"]) == ["b/y", "a/x", "b/y", "b/y", "c/z"]
    source = out.meta["source_model"].to_numpy()
    np.testing.assert_array_equal(out.scores.to_numpy(), panel.scores.loc[source].to_numpy())
    np.testing.assert_array_equal(out.stderr.to_numpy(), panel.stderr.loc[source].to_numpy())
    np.testing.assert_array_equal(out.targets["gsm8k_cot"], [0.2, 0.1, 0.2, 0.2, 0.3])
    pd.testing.assert_frame_equal(
        out.meta.drop(columns="source_model").reset_index(drop=True), panel.meta.loc[source].reset_index(drop=True)
    )
    again = out.resample([2, 2])  # a resample of a resample still maps back to the original models
    assert list(again.models) == ["b/y#2", "b/y#2#2"] and list(again.meta["source_model"]) == ["b/y", "b/y"]
    assert panel.n_models == 3 and "source_model" not in panel.meta  # the original is untouched


def test_resample_reruns_validation_and_checks_positions():
    panel = make()
    with pytest.raises(DataValidationError, match="'ARC-C' has no value for any model"):
        panel.resample([2, 2])  # c/z has no ARC-C score
    for bad in ([], [3], [-1], [0.5, 1.0], [[0, 1]], "ab"):
        with pytest.raises(ConfigError, match=r"positions=.*integer positions in \[0, 2\]"):
            panel.resample(bad)


def test_panel_pickles_for_worker_processes():
    import pickle

    panel = make(targets=pd.DataFrame({"t": [0.1, 0.2, 0.3]}, index=["a/x", "b/y", "c/z"]))
    copy = pickle.loads(pickle.dumps(panel))
    pd.testing.assert_frame_equal(copy.frame(), panel.frame())
    pd.testing.assert_frame_equal(copy.plausibility, panel.plausibility)
    with pytest.raises(AttributeError, match="immutable"):
        copy.x = 1
