"""Held-out validation: splits, the no-leakage guarantee, backtest numbers against a direct recomputation, errors."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import expit

from osltools.capabilities import CapabilityPCA
from osltools.data import Panel
from osltools.datasets import simulate_panel
from osltools.exceptions import ConfigError, DataError
from osltools.law import ScalingLaw
from osltools.validation import (
    DEFAULT_CUTOFF,
    BacktestResults,
    LawOptions,
    Split,
    backtest,
    capability_split,
    compute_split,
    family_split,
    fit_heldout,
    heldout_split,
    leave_one_family_out,
    predictor_formula,
    top_fraction_split,
)
from tests.conftest import load_quietly

WORD = "word_unscrambling_2_exact_match"
FLOOR = LawOptions(bounds="floor")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def emergent(public_data_dir):
    return load_quietly("obsscaling-emergent", model_set="main")


@pytest.fixture(scope="module")
def word_backtest(emergent):
    return backtest(emergent, [WORD], predictors=["pcs:3", "flops", "size"], law=FLOOR)


def _rebuild(panel: Panel, scores: pd.DataFrame, targets: pd.DataFrame) -> Panel:
    meta = panel.meta[["family", "params_b", "tokens_t", "flops"]]
    return Panel(scores, meta, targets=targets)


# ---------------------------------------------------------------------------------------------- splits
def test_compute_split_matches_the_cutoff_and_excludes_models_without_compute(sim):
    panel = sim.panel
    flops = panel.meta["flops"]
    cutoff = float(flops.dropna().sort_values().iloc[40])  # a model exactly at the cutoff trains
    split = compute_split(panel, cutoff)
    assert set(split.train) == set(flops.index[flops <= cutoff])
    assert set(split.test) == set(flops.index[flops > cutoff])
    assert set(split.excluded_models) == set(flops.index[flops.isna()]) and len(split.excluded) > 0
    assert all("FLOPs" in reason for reason in split.reasons.values())
    assert sorted(split.models) == sorted(panel.models)
    assert split.frame()["role"].value_counts().to_dict() == {"train": 41, "test": split.n_test,
                                                               "excluded": len(split.excluded)}


def test_default_cutoff_is_llama2_7b_on_public_data(emergent):
    split = compute_split(emergent)
    assert DEFAULT_CUTOFF == 8.4e22
    assert "meta-llama/Llama-2-7b-hf" in split.train and "meta-llama/Llama-2-13b-hf" in split.test
    assert set(split.excluded_models) == {"mistralai/Mistral-7B-v0.1", "mistralai/Mixtral-8x7B-v0.1"}
    assert split.n_train + split.n_test == 75


def test_capability_split_uses_pc1_of_all_models(sim):
    panel = sim.panel
    pc1 = CapabilityPCA(n_components=1).fit(panel.drop(benchmarks=["GSM8K"])).scores["PC1"]
    cutoff = float(pc1.median())
    split = capability_split(panel, cutoff, exclude_from_pca=["GSM8K"])
    assert set(split.train) == set(pc1.index[pc1 <= cutoff]) and set(split.test) == set(pc1.index[pc1 > cutoff])
    assert not split.excluded and "PC-1" in split.description


@pytest.mark.parametrize("by", ["flops", "pc1"])
def test_top_fraction_holds_out_the_strongest(sim, by):
    panel = sim.panel
    split = top_fraction_split(panel, 0.25, by=by)
    measure = panel.meta["flops"] if by == "flops" else CapabilityPCA(n_components=1).fit(panel).scores["PC1"]
    n = int(measure.notna().sum())
    assert split.n_test == math.floor(0.25 * n) and split.n_train == n - split.n_test
    assert measure[list(split.test)].min() >= measure[list(split.train)].max()
    assert len(split.excluded) == (panel.n_models - n)


def test_leave_one_family_out_partitions_the_models(sim):
    panel = sim.panel
    splits = leave_one_family_out(panel)
    assert len(splits) == len(panel.families)
    tests = [m for s in splits for m in s.test]
    assert sorted(tests) == sorted(panel.models)  # every model held out exactly once
    for split, family in zip(splits, panel.families):
        fam = panel.meta.loc[list(split.test), "family"]
        assert (fam == family).all()
        assert set(split.train) == set(panel.models) - set(split.test)


def test_heldout_split_and_split_object(sim):
    panel = sim.panel
    held = list(panel.models[:3])
    split = heldout_split(panel, held)
    assert split.test == tuple(held) and split.n_train == panel.n_models - 3
    with pytest.raises(AttributeError):
        split.train = ()
    restricted = split.restrict({held[0]: "no value"})
    assert held[0] not in restricted.test and restricted.reasons == {held[0]: "no value"}
    with pytest.raises(ConfigError, match="disjoint"):
        Split(train=("a", "b"), test=("b",))
    assert "3 test" in repr(split)


def test_split_errors(sim):
    panel = sim.panel
    flops = panel.meta["flops"].dropna()
    with pytest.raises(ConfigError, match="no training model"):
        compute_split(panel, float(flops.min()) / 2)
    with pytest.raises(ConfigError, match="no test model"):
        compute_split(panel, float(flops.max()) * 2)
    with pytest.raises(ConfigError, match="cutoff"):
        compute_split(panel, -1.0)
    with pytest.raises(ConfigError, match="fraction"):
        top_fraction_split(panel, 1.5)
    with pytest.raises(ConfigError, match="by="):
        top_fraction_split(panel, 0.2, by="size")
    with pytest.raises(ConfigError, match="not in the panel"):
        heldout_split(panel, ["no-such-model"])
    with pytest.raises(ConfigError, match="family='Nope'"):
        family_split(panel, "Nope")
    one_family = panel.select(families=[panel.families[0]])
    with pytest.raises(ConfigError, match="no training model"):
        leave_one_family_out(one_family)


# ---------------------------------------------------------------------------------------------- no leakage
def test_heldout_values_change_no_fitted_parameter(emergent):
    split = compute_split(emergent)
    base = fit_heldout(emergent, WORD, split=split, law=FLOOR)
    test = list(base.split.test)
    changed, unchanged = test[: len(test) // 2], test[len(test) // 2:]
    rng = np.random.default_rng(0)
    scores = emergent.scores
    scores.loc[changed] = rng.uniform(0.05, 0.95, size=(len(changed), emergent.n_benchmarks))
    scores.loc[changed[0], "MMLU"] = np.nan  # a held-out missing cell is completed by the training imputer
    targets = emergent.targets
    targets.loc[test, WORD] = rng.uniform(0, 1, size=len(test))
    other = fit_heldout(_rebuild(emergent, scores, targets), WORD, split=split, law=FLOOR)

    a, b = base.capabilities, other.capabilities
    pd.testing.assert_frame_equal(a.imputation.completed, b.imputation.completed, rtol=1e-12)
    np.testing.assert_allclose(a.imputation.components, b.imputation.components, rtol=1e-12, atol=0)
    pd.testing.assert_frame_equal(a.loadings, b.loadings, rtol=1e-12)
    np.testing.assert_allclose(a.pca.singular_values, b.pca.singular_values, rtol=1e-12)
    pd.testing.assert_series_equal(base.params, other.params, rtol=1e-12)
    pd.testing.assert_frame_equal(base.law.cov_params(), other.law.cov_params(), rtol=1e-12)

    p, q = base.predictions(), other.predictions()
    pd.testing.assert_frame_equal(p.loc[unchanged, ["mean", "mean_se", "obs_ci_lower"]],
                                  q.loc[unchanged, ["mean", "mean_se", "obs_ci_lower"]], rtol=1e-12)
    assert (np.abs(p.loc[changed, "mean"] - q.loc[changed, "mean"]) > 1e-6).all()
    assert not np.allclose(p["observed"], q["observed"])  # the new targets only change the errors


def test_training_values_do_change_the_fit(emergent):
    """Control for the test above: the same perturbation on a training model moves the fit."""
    split = compute_split(emergent)
    base = fit_heldout(emergent, WORD, split=split, law=FLOOR)
    scores = emergent.scores
    scores.loc[base.split.train[0]] = 0.5
    other = fit_heldout(_rebuild(emergent, scores, emergent.targets), WORD, split=split, law=FLOOR)
    assert not np.allclose(base.capabilities.loadings, other.capabilities.loadings)
    assert not np.allclose(base.params, other.params)


# ---------------------------------------------------------------------------------------------- backtest numbers
def test_backtest_cell_matches_a_direct_recomputation(emergent, word_backtest):
    flops, y = emergent.meta["flops"], emergent.targets[WORD]
    usable = y.notna() & flops.notna()
    train = list(emergent.models[(usable & (flops <= 8.4e22)).to_numpy()])
    test = list(emergent.models[(usable & (flops > 8.4e22)).to_numpy()])
    caps = CapabilityPCA(n_components=3).fit(emergent.select(train))
    test_frame = emergent.select(test).frame().join(caps.transform(emergent.select(test)))
    law = ScalingLaw.from_formula(f"{WORD} ~ PC1 + PC2 + PC3", caps.frame(), bounds="floor").fit()
    pred = law.get_prediction(test_frame).summary_frame(alpha=0.05)
    observed = test_frame[WORD].to_numpy()
    resid = observed - pred["mean"].to_numpy()
    inside = (observed >= pred["obs_ci_lower"].to_numpy()) & (observed <= pred["obs_ci_upper"].to_numpy())

    row = word_backtest.table.loc[(WORD, "pcs:3")]
    assert (row["n_train"], row["n_test"]) == (len(train), len(test))
    np.testing.assert_allclose(row["mse"], np.mean(resid**2), rtol=1e-10)
    np.testing.assert_allclose(row["mae"], np.mean(np.abs(resid)), rtol=1e-10)
    np.testing.assert_allclose(row["pi_coverage"], inside.mean(), rtol=1e-12)
    np.testing.assert_allclose(row["mse_se"], np.std(resid**2, ddof=1) / np.sqrt(len(test)), rtol=1e-10)


def test_flops_cell_matches_an_independent_scipy_fit(emergent, word_backtest):
    """y = b + (1 - b) sigmoid(a + c log10 C), b in [0, 0.2], fitted directly with scipy on the training models."""
    split = word_backtest.splits[WORD]
    meta, y = emergent.meta, emergent.targets[WORD]
    x_train, y_train = meta.loc[list(split.train), "log10_flops"].to_numpy(), y[list(split.train)].to_numpy()

    def resid(theta):
        return theta[2] + (1 - theta[2]) * expit(theta[0] + theta[1] * x_train) - y_train

    sol = optimize.least_squares(resid, [-50.0, 2.0, 0.01], bounds=([-np.inf, -np.inf, 0], [np.inf, np.inf, 0.2]),
                                 ftol=1e-14, xtol=1e-14, gtol=1e-14, max_nfev=20000)
    a, c, b = sol.x
    x_test, y_test = meta.loc[list(split.test), "log10_flops"].to_numpy(), y[list(split.test)].to_numpy()
    mse = np.mean((b + (1 - b) * expit(a + c * x_test) - y_test) ** 2)
    np.testing.assert_allclose(word_backtest.table.loc[(WORD, "flops"), "mse"], mse, rtol=1e-5)


def test_compare_is_a_paired_t_test(word_backtest):
    test = word_backtest.predictions.query("role == 'test'")
    sq = {p: test[test.predictor == p].set_index("model")["residual"] ** 2 for p in ("pcs:3", "flops")}
    ttest = stats.ttest_rel(sq["pcs:3"], sq["flops"].loc[sq["pcs:3"].index])
    row = word_backtest.compare("flops").loc[(WORD, "pcs:3")]
    np.testing.assert_allclose(row["mse_diff"], (sq["pcs:3"] - sq["flops"]).mean(), rtol=1e-12)
    np.testing.assert_allclose(row["p_value"], ttest.pvalue, rtol=1e-8)
    table = word_backtest.table
    np.testing.assert_allclose(row["mse_diff"], table.loc[(WORD, "pcs:3"), "mse"] - table.loc[(WORD, "flops"), "mse"],
                               rtol=1e-10)


def test_every_predictor_sees_the_same_models(word_backtest):
    table, preds = word_backtest.table, word_backtest.predictions
    assert table["n_test"].nunique() == 1 and table["n_train"].nunique() == 1
    test_sets = preds.query("role == 'test'").groupby("predictor")["model"].apply(frozenset)
    assert test_sets.nunique() == 1
    assert word_backtest.winners[WORD] == table["mse"].idxmin()[1]
    assert table["best"].sum() == 1


def test_results_contract(word_backtest):
    res = word_backtest
    assert list(res.params.index.names) == ["target", "predictor"]
    ci = res.conf_int()
    assert (ci["lower"] < res.params).all() and (ci["upper"] > res.params).all()
    assert {"metric", "value"} <= set(res.tidy().columns)
    assert "Held-out errors" in res.summary().as_text() and repr(res).count("\n") == 0
    with pytest.raises(AttributeError):
        res.table = None
    fit = res.fits[(WORD, "pcs:3")]
    assert fit.conf_int().shape == (len(fit.params), 2) and "PCA inputs" in fit.summary().as_text()
    assert set(fit.frame()["role"]) == {"train", "test"}
    train = fit.predictions(include_train=True).query("role == 'train'")
    np.testing.assert_allclose(train["mean"], fit.law.fittedvalues.loc[train.index], rtol=1e-12)
    np.testing.assert_allclose(train["observed"], fit.train.loc[train.index, WORD], rtol=0)


def test_failed_fit_is_a_row_with_its_message(sim):
    panel = sim.panel
    flops = panel.meta["flops"].dropna().sort_values()
    observed = panel.targets["base_task"].notna()
    small = [m for m in flops.index if observed[m]][:6]  # 6 training models for 6 parameters with pcs:4 + floor
    split = heldout_split(panel, [m for m in panel.models if m not in small])
    res = backtest(panel, ["base_task"], predictors=["pcs:1", "pcs:4"], split=split, law=FLOOR)
    failed = res.table.loc[("base_task", "pcs:4")]
    assert failed["status"] == "failed" and "need more models than parameters" in failed["message"]
    assert np.isnan(failed["mse"]) and not failed["best"]
    assert res.table.loc[("base_task", "pcs:1"), "status"] == "ok"
    assert "failed" in res.summary().as_text()


def test_concat_and_odd_target_names(sim):
    panel = sim.panel.rename_targets({"base_task": "base-task,flex"})
    split = compute_split(panel, float(panel.meta["flops"].dropna().quantile(0.7)))
    first = backtest(panel, ["base-task,flex"], predictors=["flops"], split=split)
    assert first.table.loc[("base-task,flex", "flops"), "formula"] == "Q('base-task,flex') ~ log10_flops"
    second = backtest(panel, ["emergent_task"], predictors=["size"], split=split)
    both = BacktestResults.concat([first, second])
    assert list(both.splits) == ["base-task,flex", "emergent_task"] and len(both.table) == 2
    with pytest.raises(ConfigError, match="more than one"):
        BacktestResults.concat([first, first])


def test_simulated_truth_pc_law_extrapolates_better_than_flops():
    """Families differ in compute efficiency in the simulation, so capabilities predict better than FLOPs."""
    panel, truth = simulate_panel(seed=1)
    split = compute_split(panel, float(panel.meta["flops"].dropna().quantile(0.7)))
    res = backtest(panel, ["base_task"], predictors=["pcs:3", "flops"], split=split)
    test = res.predictions.query("role == 'test'")
    errors = {}
    for predictor, block in test.groupby("predictor"):
        expected = truth.targets["base_task"].expected(truth.capabilities.loc[block["model"]].to_numpy())
        errors[predictor] = np.mean((block["mean"].to_numpy() - expected) ** 2)
    assert errors["pcs:3"] < 0.1 * errors["flops"]


# ---------------------------------------------------------------------------------------------- errors
def test_predictor_specs():
    assert predictor_formula("t", "pcs:2") == "t ~ PC1 + PC2"
    assert predictor_formula("t", "flops") == "t ~ log10_flops"
    assert predictor_formula("t", "size") == "t ~ np.log10(params_b)"
    assert predictor_formula("class", "flops") == "Q('class') ~ log10_flops"
    for bad in ("pcs:0", "pcs", "pcs:x", "logflops", "PCS:3"):
        with pytest.raises(ConfigError, match="pcs:K"):
            predictor_formula("t", bad)


def test_input_errors(sim):
    panel = sim.panel
    with pytest.raises(ConfigError, match="target 'nope' is not a target"):
        backtest(panel, ["nope"])
    with pytest.raises(ConfigError, match="predictor 'flop'"):
        backtest(panel, ["base_task"], predictors=["flop"])
    empty = panel.with_targets(pd.DataFrame({"empty": np.nan}, index=panel.models), warn=False)
    with pytest.raises(DataError, match="'empty' has no observed value"):
        fit_heldout(empty, "empty")
    with pytest.raises(ConfigError, match="exclude_from_pca"):
        fit_heldout(panel, "base_task", exclude_from_pca=["NOPE"])
    with pytest.raises(ConfigError, match="loss="):
        LawOptions(loss="l1")
    with pytest.raises(ConfigError, match="bounds="):
        LawOptions(bounds="top")
    with pytest.raises(ConfigError, match="f_scale="):
        LawOptions(loss="huber", f_scale=0)


def test_split_without_target_models_on_one_side(sim):
    panel = sim.panel
    missing = list(panel.models[panel.targets["base_task"].isna().to_numpy()])
    split = heldout_split(panel, missing)  # every held-out model lacks the target
    with pytest.raises(ConfigError, match="with target 'base_task' leaves no test model"):
        backtest(panel, ["base_task"], split=split)
    foreign = Split(train=("a",), test=("b",), description="foreign")
    with pytest.raises(ConfigError, match="not in the panel"):
        fit_heldout(panel, "base_task", split=foreign)


# ---------------------------------------------------------------------------------------------- the public report
def test_committed_public_backtest_matches_the_code(public_data_dir):
    """The committed report's numbers for word unscrambling are what the analysis script computes now."""
    spec = importlib.util.spec_from_file_location("backtest_public", REPO / "analyses" / "backtest_public.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    settings = tuple(s for s in module.SETTINGS if s.target == WORD)
    results = module.run(settings)
    committed = pd.read_csv(REPO / "reports" / "backtest_public.csv").set_index(["target", "predictor"])
    for column in ("n_train", "n_test", "mse", "mae", "pi_coverage"):
        np.testing.assert_allclose(results.table.loc[WORD, column].to_numpy(float),
                                   committed.loc[WORD, column].to_numpy(float), rtol=1e-5)  # the report shows 4 digits
    verdict = module.verdicts(results, settings).iloc[0]
    assert verdict["pcs3_beats_flops"] and verdict["best_predictor"] == results.winners[WORD]
