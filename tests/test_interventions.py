"""Intervention gap curves: backends, direct recomputation, read-outs on hand-made replicates, family tests, errors."""

from __future__ import annotations

import importlib.util
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from osltools.capabilities import CapabilityPCA
from osltools.datasets import simulate_panel
from osltools.equivalent import equivalent_flops
from osltools.exceptions import ConfigError, FitError, OSLWarning, SmallFamilyWarning
from osltools.interventions import (
    GapResults, _Fit, bootstrap_test, compare_interventions, peak, positive_regions, significant_from,
)
from osltools.law import ScalingLaw
from osltools.replicates import Replicates
from tests.conftest import REPO, load_quietly

SIM_OPTIONS = {"base": "base_task", "interventions": {"steep": "intervention_task"}}


@pytest.fixture(scope="module")
def small_sim():
    return simulate_panel(seed=5, n_models=40, n_families=8)


def sim_run(small_sim, **options):
    panel, truth = small_sim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        return compare_interventions(panel, **SIM_OPTIONS, reference_family=truth.reference_family,
                                     **{"n_boot": 8, "seed": 11, **options})


@pytest.fixture(scope="module")
def sim_result(small_sim):
    return sim_run(small_sim)


@pytest.fixture(scope="module")
def post_panel(public_data_dir):
    return load_quietly("obsscaling-post-training", model_set="main")


@pytest.fixture(scope="module")
def public_result(post_panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)  # 3 Llama-2 models; a failed replicate
        return compare_interventions(post_panel, n_boot=10, seed=2)


# ---------------------------------------------------------------------------------------------- backends
def test_same_seed_same_bands_with_one_two_workers_and_dask(small_sim, sim_result):
    distributed = pytest.importorskip("distributed")  # in the dev extra: not skipped in CI
    two = sim_run(small_sim, n_jobs=2)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        on_dask = sim_run(small_sim, backend="dask", scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    for other in (two, on_dask):
        pd.testing.assert_frame_equal(other.replicates.table, sim_result.replicates.table, check_exact=True)
        pd.testing.assert_frame_equal(other.tidy(), sim_result.tidy(), check_exact=True)
        pd.testing.assert_frame_equal(other.growth_tests(), sim_result.growth_tests(), check_exact=True)
    assert on_dask.replicates.backend == "dask"


def test_another_seed_gives_other_bands(small_sim, sim_result):
    other = sim_run(small_sim, seed=12)
    assert not np.allclose(other.tidy()["lower"], sim_result.tidy()["lower"])
    np.testing.assert_array_equal(other.tidy()["estimate"], sim_result.tidy()["estimate"])


# ---------------------------------------------------------------------------------------------- estimates
def test_gap_is_the_difference_of_directly_fitted_curves(post_panel, public_result):
    """Imputation + PCA, the three laws and their lines refitted here by hand, curves from EquivalentFlops.curve."""
    caps = CapabilityPCA(n_components=3).fit(post_panel)
    frame = caps.frame()
    curves = {}
    for label, column in {"base": "gsm8k_5", "CoT": "gsm8k_cot", "CoT+SC": "gsm8k_cot_sc"}.items():
        law = ScalingLaw.from_formula(f"{column} ~ PC1 + PC2 + PC3", frame, bounds="floor", loss="huber").fit()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallFamilyWarning)
            eq = equivalent_flops(law, frame, reference_family="Llama-2")
        curves[label] = eq.curve(public_result.grid.to_numpy())["mean"].to_numpy()
        curves[label + "@growth"] = eq.curve(public_result.growth_points.to_numpy())["mean"].to_numpy()
        np.testing.assert_allclose(public_result.band(label)["estimate"], curves[label], rtol=1e-9, atol=1e-12)
    for name, a, b in (("CoT - base", "CoT", "base"), ("CoT+SC - base", "CoT+SC", "base"),
                       ("CoT+SC - CoT", "CoT+SC", "CoT")):
        np.testing.assert_allclose(public_result.band(name)["estimate"], curves[a] - curves[b], rtol=1e-9, atol=1e-12)
        at = curves[a + "@growth"] - curves[b + "@growth"]
        np.testing.assert_allclose(public_result.params.loc[name].to_numpy(), [at[0], at[1], at[1] - at[0]],
                                   rtol=1e-9, atol=1e-12)


def test_default_grid_spans_every_law_s_models(public_result):
    spans = [eq.per_model()["log10_flops_equivalent"].reindex(public_result.laws[m].model.endog.index)
             for m, eq in public_result.equivalents.items()]
    values = pd.concat(spans)
    grid = public_result.grid.to_numpy()
    assert len(grid) == 50
    np.testing.assert_allclose([grid[0], grid[-1]], [values.min(), values.max()], rtol=1e-12)
    complete = public_result.panel.targets.dropna().index
    base = public_result.equivalents["base"].per_model()["log10_flops_equivalent"].reindex(complete)
    np.testing.assert_allclose(public_result.growth_points, np.quantile(base, [0.25, 0.75]), rtol=1e-12)


def test_bands_are_quantiles_and_sup_t_of_the_replicate_table(public_result):
    reps, alpha = public_result.replicates, 0.1
    band = public_result.band("CoT+SC - CoT", alpha)
    columns = [("gap", "CoT+SC - CoT", j) for j in range(50)]
    draws = reps.table[columns].to_numpy()
    np.testing.assert_allclose(band["lower"], np.quantile(draws, alpha / 2, axis=0), rtol=1e-12)
    np.testing.assert_allclose(band["upper"], np.quantile(draws, 1 - alpha / 2, axis=0), rtol=1e-12)
    estimate = reps.estimate[columns].to_numpy()
    se = draws.std(axis=0, ddof=1)
    critical = np.quantile(np.max(np.abs(draws - estimate) / se, axis=1), 1 - alpha)
    np.testing.assert_allclose(band["simultaneous_lower"], estimate - critical * se, rtol=1e-10)
    assert (band["simultaneous_upper"] - band["simultaneous_lower"] >= band["upper"] - band["lower"] - 1e-12).all()
    lo, hi = public_result.reference_range
    assert band["within_reference"].to_numpy().tolist() == [lo <= x <= hi for x in band.index]


def test_weights_are_gamma_beta_and_do_not_depend_on_component_signs(public_result):
    weights = public_result.benchmark_weights()
    loadings = public_result.capabilities.loadings
    for label, law in public_result.laws.items():
        direct = loadings.to_numpy() @ law.params[["PC1", "PC2", "PC3"]].to_numpy()
        np.testing.assert_allclose(weights.loc[label, "weight"].reindex(loadings.index), direct, rtol=1e-12)
    np.testing.assert_allclose(weights.loc["CoT - base", "weight"],
                               weights.loc["CoT", "weight"] - weights.loc["base", "weight"], rtol=1e-12)
    # a PC with the other sign: beta flips with it, gamma beta stays
    frame = public_result.capabilities.frame().assign(PC2=lambda f: -f["PC2"])
    flipped = ScalingLaw.from_formula("gsm8k_cot ~ PC1 + PC2 + PC3", frame, bounds="floor", loss="huber").fit()
    np.testing.assert_allclose(flipped.benchmark_weights(loadings.assign(PC2=-loadings["PC2"]))["weight"],
                               weights.loc["CoT", "weight"].reindex(loadings.index), rtol=1e-6)


# ---------------------------------------------------------------------------------------------- read-outs
def test_onset_and_regions_on_hand_made_bands():
    grid = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert significant_from(grid, np.array([-1, 0.5, -0.2, 0.1, 0.3])) == 4.0
    assert significant_from(grid, np.array([0.1, 0.2, 0.3, 0.4, 0.5])) == 1.0
    assert np.isnan(significant_from(grid, np.array([0.1, 0.2, 0.3, 0.4, 0.0])))  # 0 is not above 0
    assert positive_regions(grid, np.array([-1, 0.5, -0.2, 0.1, 0.3])) == [(2.0, 2.0), (4.0, 5.0)]
    assert positive_regions(grid, np.array([-1, -1, -1, -1, -1])) == []


def test_peak_on_a_hand_made_table():
    grid = np.array([1.0, 2.0, 3.0, 4.0])
    draws = np.array([[0, 3, 1, 0]] * 3 + [[0, 1, 2, 0]] * 5 + [[0, 0, 1, 4]] * 2, dtype=float)  # peaks: 2, 3, 4
    out = peak(grid, np.array([0.0, 1.0, 2.0, 1.5]), draws, alpha=0.2)
    locations = np.array([2.0] * 3 + [3.0] * 5 + [4.0] * 2)
    assert out["peak_at"] == 3.0 and out["gap_at_peak"] == 2.0 and not out["at_grid_end"]
    assert (out["lower"], out["upper"]) == tuple(np.quantile(locations, [0.1, 0.9]))
    assert out["share_at_upper_end"] == 0.2 and out["share_at_lower_end"] == 0.0


def test_bootstrap_test_on_hand_made_draws():
    out = bootstrap_test(1.5, np.array([-1.0, 1.0, 2.0, 3.0]), alpha=0.5)
    assert out["p_value"] == pytest.approx(2 * 2 / 5) and out["n_replicates"] == 4
    assert out["se"] == pytest.approx(np.std([-1, 1, 2, 3], ddof=1))
    assert (out["lower"], out["upper"]) == tuple(np.quantile([-1.0, 1.0, 2.0, 3.0], [0.25, 0.75]))
    assert bootstrap_test(1.0, np.full(99, 2.0), alpha=0.05)["p_value"] == pytest.approx(2 / 100)
    with pytest.raises(FitError, match="at least 2 replicates"):
        bootstrap_test(1.0, np.array([1.0, np.nan]), alpha=0.05)


def with_replicates(result: GapResults, table: pd.DataFrame, estimate: pd.Series) -> GapResults:
    """The same fit with a hand-made replicate table."""
    reps = Replicates(table=table, failures=pd.DataFrame(columns=["replicate", "error", "message"]),
                      n_requested=len(table), estimate=estimate, seed=np.random.SeedSequence(0), backend="sequential",
                      n_jobs=1, kind="bootstrap")
    return GapResults(spec=result._spec, panel=result.panel,
                      fit=_Fit(result.capabilities, dict(result.laws), dict(result.equivalents)),
                      grid=result.grid.to_numpy(), growth_points=result.growth_points.to_numpy(), replicates=reps,
                      per_model=result.family_gains(), alpha=0.05, reference_resampling="within",
                      min_family_models=3, fit_warnings=())


def test_onsets_peaks_growth_of_gap_results_on_a_hand_made_table(sim_result):
    """A gap that rises linearly over the grid, replicates = estimate + known shifts: every read-out by hand."""
    columns = sim_result.replicates.table.columns
    n_grid = len(sim_result.grid)
    shifts = np.linspace(-0.1, 0.1, 41)  # replicate b shifts the whole gap curve by shifts[b]
    gap = np.linspace(-0.2, 0.8, n_grid)
    estimate = sim_result.replicates.estimate.copy()
    estimate[[("gap", "steep - base", j) for j in range(n_grid)]] = gap
    estimate[[("growth", "steep - base", t) for t in ("low", "high", "difference")]] = [0.1, 0.5, 0.4]
    table = pd.DataFrame(np.tile(estimate.to_numpy(), (len(shifts), 1)), columns=columns)
    for j in range(n_grid):
        table[("gap", "steep - base", j)] += shifts
    table[("growth", "steep - base", "difference")] += shifts * 5  # 0.4 + [-0.5, 0.5]
    res = with_replicates(sim_result, table, estimate)
    x = sim_result.grid.to_numpy()
    lower = gap + np.quantile(shifts, 0.025)
    onsets = res.onsets().loc["steep - base"]
    assert onsets["pointwise_from"] == x[np.argmax(lower > 0)]
    # equal shifts: every |t| is the same, the sup-t band is the estimate -/+ max|shift| / sd * sd
    assert onsets["simultaneous_from"] == x[np.argmax(gap - np.quantile(np.abs(shifts), 0.95) > 0)]
    peaks = res.peaks().loc["steep - base"]
    assert peaks["peak_at"] == x[-1] and peaks["at_grid_end"] and peaks["share_at_upper_end"] == 1.0
    growth = res.growth_tests().loc["steep - base"]
    diff = 0.4 + shifts * 5
    assert growth["growth"] == 0.4 and growth["gap_high"] == 0.5
    assert growth["p_value"] == pytest.approx(2 * (1 + np.sum(diff <= 0)) / (len(diff) + 1))
    np.testing.assert_allclose([growth["lower"], growth["upper"]], np.quantile(diff, [0.025, 0.975]))
    assert res.params[("steep - base", "growth")] == 0.4
    np.testing.assert_allclose(res.bse[("steep - base", "growth")], np.std(diff, ddof=1))


def test_growth_contrast_is_the_difference_of_growths(public_result):
    contrast = public_result.growth_contrast("CoT - base", "CoT+SC - CoT")
    table = public_result.replicates.table
    draws = (table[("growth", "CoT - base", "difference")] - table[("growth", "CoT+SC - CoT", "difference")])
    growth = public_result.growth_tests()["growth"]
    assert contrast["estimate"] == pytest.approx(growth["CoT - base"] - growth["CoT+SC - CoT"], rel=1e-12)
    np.testing.assert_allclose([contrast["lower"], contrast["upper"]], np.quantile(draws, [0.025, 0.975]))
    with pytest.raises(ConfigError, match="comparison 'CoT - nope'"):
        public_result.growth_contrast("CoT - base", "CoT - nope")


# ---------------------------------------------------------------------------------------------- families
def holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]).clip(max=1)
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def test_family_tests_against_a_direct_computation(post_panel, public_result):
    gains = public_result.family_gains()
    counts = post_panel.meta["family"][post_panel.targets[["gsm8k_5", "gsm8k_cot", "gsm8k_cot_sc"]].notna()
                                       .all(axis=1)].value_counts()
    assert set(gains["family"]) == set(counts.index[counts >= 3])
    # observed gains from the panel, predicted ones from the formula laws at the models' projected PCs
    models = gains.loc[gains["comparison"] == "CoT - base", "model"].tolist()
    scores = public_result.capabilities.transform(post_panel.select(models))
    predicted = {m: public_result.laws[m].predict(scores) for m in ("base", "CoT")}
    cot = gains[gains["comparison"] == "CoT - base"].set_index("model")
    targets = post_panel.targets.loc[models]
    np.testing.assert_allclose(cot["observed"], targets["gsm8k_cot"] - targets["gsm8k_5"], rtol=1e-12)
    np.testing.assert_allclose(cot["predicted"], predicted["CoT"] - predicted["base"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(public_result.predict(post_panel.select(models))["CoT"], predicted["CoT"], rtol=1e-9)

    tests = public_result.family_tests()
    table = public_result.replicates.table
    for comparison in ("CoT - base", "CoT+SC - CoT"):
        block = gains[gains["comparison"] == comparison]
        p_values = []
        for family, rows in block.groupby("family", sort=False):
            d = rows["deviation"].to_numpy()
            n = len(d)
            curve = np.var(table[("family", comparison, family)].to_numpy(), ddof=1)
            se = np.sqrt(d.var(ddof=1) / n + curve)
            df = se**4 / ((d.var(ddof=1) / n) ** 2 / (n - 1))
            p = 2 * stats.t.sf(abs(d.mean() / se), df)
            got = tests.loc[(comparison, family)]
            np.testing.assert_allclose([got["deviation"], got["se"], got["df"], got["p_value"]],
                                       [d.mean(), se, df, p], rtol=1e-9)
            p_values.append(p)
        np.testing.assert_allclose(tests.loc[comparison, "p_holm"].to_numpy(), holm(np.array(p_values)), rtol=1e-12)


def test_no_family_view_when_families_are_small(small_sim):
    res = sim_run(small_sim, min_family_models=50)
    assert res.family_gains().empty and res.family_tests().empty
    assert "no family view" in res.summary().as_text()


def test_committed_public_report_matches_the_code(public_result):
    """The committed curves (reports/interventions_public.csv, B = 1000) have this code's point estimates."""
    committed = pd.read_csv(REPO / "reports" / "interventions_public.csv")
    tidy = public_result.tidy()
    for column in ("kind", "name"):
        assert committed[column].tolist() == tidy[column].tolist()
    np.testing.assert_allclose(committed["log10_flops_equivalent"], tidy["log10_flops_equivalent"], rtol=1e-12)
    np.testing.assert_allclose(committed["estimate"], tidy["estimate"], rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------- contract
def test_results_contract(public_result):
    assert repr(public_result).count("\n") == 0 and "77 models (21 families)" in repr(public_result)
    params = public_result.params
    assert list(params.index.names) == ["comparison", "term"] and len(params) == 9
    assert params.index.equals(public_result.bse.index)
    ci = public_result.conf_int(0.1)
    assert list(ci.columns) == ["lower", "upper"] and (ci["lower"] <= ci["upper"]).all()
    tidy = public_result.tidy()
    assert list(tidy.columns[:3]) == ["kind", "name", "log10_flops_equivalent"]
    assert len(tidy) == 6 * 50 and {"simultaneous_lower", "simultaneous_upper", "lower", "upper"} <= set(tidy.columns)
    summary = public_result.summary()
    assert "Contrasts of growth" in summary.as_text() and "Llama-2" in summary.as_markdown()
    assert summary.header["Bootstrap"].startswith("10 requested")
    with pytest.raises(AttributeError, match="immutable"):
        public_result.alpha = 0.1
    with pytest.raises(ConfigError, match="name='nope'"):
        public_result.band("nope")


def test_failed_replicates_are_counted(post_panel):
    """3 Llama-2 models resampled among themselves: about 1 replicate in 9 has a single distinct one and fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        res = compare_interventions(post_panel, interventions={"CoT": "gsm8k_cot"}, n_boot=30, seed=4)
    reps = res.replicates
    assert reps.n_failed + reps.n_succeeded == 30 and 0 < reps.n_failed < 12
    assert f"{reps.n_failed} failed" in res.summary().header["Bootstrap"]
    assert "FitError" in set(reps.failures["error"])


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        ({"base": "nope"}, ConfigError, "target 'nope' is not a target"),
        ({"interventions": {"CoT": "gsm8k_no_such"}}, ConfigError, "gsm8k_no_such"),
        ({"interventions": {"CoT": "gsm8k_5"}}, ConfigError, "'CoT' = 'gsm8k_5' is the base column"),
        ({"interventions": {"a": "gsm8k_cot", "b": "gsm8k_cot"}}, ConfigError, "intervention 'a'"),
        ({"interventions": {"base": "gsm8k_cot"}}, ConfigError, "label 'base'"),
        ({"interventions": {}}, ConfigError, "non-empty mapping"),
        ({"reference_family": "Nope"}, ConfigError, "reference_family='Nope' is not in the panel.*Llama-2"),
        ({"n_boot": 1}, ConfigError, "n_boot=1"),
        ({"alpha": 1.5}, ConfigError, "alpha=1.5"),
        ({"min_family_models": 1}, ConfigError, "min_family_models=1"),
        ({"reference_resampling": "some"}, ConfigError, "reference_resampling='some'.*'within'"),
        ({"law": "huber"}, ConfigError, "law='huber'"),
        ({"grid": [23.0, 22.0]}, ConfigError, "grid=.*increasing"),
        ({"grid": 1}, ConfigError, "grid=1"),
        ({"growth_points": (23.5, 22.0)}, ConfigError, "growth_points=.*low < high"),
        ({"exclude_from_pca": ["NoBench"]}, ConfigError, "NoBench"),
    ],
)
def test_bad_input_names_argument_and_value(post_panel, options, error, text):
    with pytest.raises(error, match=text), warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallFamilyWarning)
        compare_interventions(post_panel, **{"n_boot": 2, **options})


def test_too_few_models_and_reference_without_compute(post_panel):
    llama2 = [m for m in post_panel.models if post_panel.meta.at[m, "family"] == "Llama-2"]
    few = post_panel.select(llama2 + ["EleutherAI/pythia-1b-deduped", "facebook/opt-1.3b"])
    with pytest.raises(FitError, match="5 models with 'gsm8k_5'.*5 parameters"):
        compare_interventions(few, n_boot=2)
    only_llama = post_panel.select(llama2)
    with pytest.raises(ConfigError, match="every model of the panel is in the reference family"):
        compare_interventions(only_llama, n_boot=2)
    with pytest.raises(ConfigError, match="must be an osltools Panel"):
        compare_interventions(post_panel.targets, n_boot=2)
    resampled = post_panel.resample(np.arange(post_panel.n_models))
    with pytest.raises(ConfigError, match="itself a bootstrap resample"):
        compare_interventions(resampled, n_boot=2)


def test_explicit_grid_and_growth_points(small_sim):
    res = sim_run(small_sim, grid=[21.0, 22.0, 23.0], growth_points=(21.5, 22.5), n_boot=4)
    assert res.grid.tolist() == [21.0, 22.0, 23.0] and res.growth_points.tolist() == [21.5, 22.5]
    assert len(res.tidy()) == 3 * 3


# ---------------------------------------------------------------------------------------------- coverage study
def test_coverage_study_small_seeded_run():
    spec = importlib.util.spec_from_file_location("interventions_coverage",
                                                  REPO / "analyses" / "interventions_coverage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    rows, points = module.coverage_runs(module.SCENARIOS[:1], seeds=[1], n_boot=12)
    row = rows.iloc[0]
    assert row["status"] == "ok" and 0 <= row["pointwise"] <= 1 and len(points) == 50
    assert row["pointwise"] == pytest.approx(points["covered"].mean())
    assert 0.5 < row["w_ratio"] < 2 and 0 <= row["floor_share"] <= 1
    linear = module.linear_benchmarks(*simulate_panel(seed=1), seed=1)
    assert linear.scores.min().min() >= 0.02 - 1e-12 and linear.scores.max().max() <= 0.98 + 1e-12
    table = module.scenario_table(rows, points)
    assert table.loc[module.SCENARIOS[0].name, "seeds"] == 1
