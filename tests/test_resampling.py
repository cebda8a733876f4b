"""The resampling engine: seeds, backends (incl. a Dask LocalCluster), failures, intervals, bands, folds."""

import pickle
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from osltools.data import Panel
from osltools.exceptions import ConfigError, DataValidationError, FitError, ResamplingWarning
from osltools.resampling import (
    Replicates,
    bootstrap,
    cross_validate,
    fold_assignment,
    replicate,
    resolve_seed,
)
from osltools.summary import Summary


# ---------------------------------------------------------------------------- module-level pipelines (picklable)
def mean_scores_with_noise(panel, rng):
    """Uses both the resample and the rng, and fails for some replicates (deterministically by seed)."""
    if rng.random() < 0.1:
        raise RuntimeError("unlucky draw")
    return panel.scores.mean() + rng.normal(scale=1e-3)


def normal_draw(rng, index):
    return rng.normal()


def family_counts(panel, rng):
    return panel.meta["family"].value_counts().sort_index()


def small_panel(n=20, seed=0):
    rng = np.random.default_rng(seed)
    models = [f"m{i:02d}" for i in range(n)]
    scores = pd.DataFrame({"A": rng.uniform(size=n), "B": rng.uniform(size=n)}, index=models)
    meta = pd.DataFrame({"family": [f"F{i % 4}" for i in range(n)], "params_b": np.arange(1.0, n + 1),
                         "tokens_t": np.full(n, 1.0)}, index=models)
    return Panel(scores, meta)


# ---------------------------------------------------------------------------- reproducibility across backends
@pytest.fixture(scope="module")
def reference_run(sim):
    panel, _ = sim
    with pytest.warns(ResamplingWarning):
        return bootstrap(mean_scores_with_noise, panel, n_boot=40, seed=123, n_jobs=1, backend="sequential")


@pytest.mark.parametrize("n_jobs, backend", [(1, "loky"), (2, "loky"), (2, "threading")])
def test_same_seed_same_table_whatever_n_jobs_or_backend(sim, reference_run, n_jobs, backend):
    panel, _ = sim
    with pytest.warns(ResamplingWarning):
        run = bootstrap(mean_scores_with_noise, panel, n_boot=40, seed=123, n_jobs=n_jobs, backend=backend)
    assert 0 < run.n_failed < 40  # the failure path is exercised too
    pd.testing.assert_frame_equal(run.table, reference_run.table, check_exact=True)
    pd.testing.assert_frame_equal(run.failures, reference_run.failures)
    pd.testing.assert_series_equal(run.estimate, reference_run.estimate, check_exact=True)


def test_same_seed_same_table_on_dask_cluster(sim, reference_run):
    # one test, one cluster (2 worker processes, 1 thread each): xdist never starts two
    distributed = pytest.importorskip("distributed")  # in the dev extra: not skipped in CI
    panel, _ = sim
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with pytest.warns(ResamplingWarning):
            run = bootstrap(mean_scores_with_noise, panel, n_boot=40, seed=123, backend="dask",
                            scheduler=cluster.scheduler_address)
        pd.testing.assert_frame_equal(run.table, reference_run.table, check_exact=True)
        pd.testing.assert_frame_equal(run.failures, reference_run.failures)
        assert run.backend == "dask" and run.summary().header["Backend"] == "dask"
        with distributed.Client(cluster):  # no scheduler=: the current default client
            on_default = replicate(normal_draw, 12, seed=4, backend="dask")
        pd.testing.assert_frame_equal(on_default.table, replicate(normal_draw, 12, seed=4).table, check_exact=True)
    finally:
        cluster.close()


def test_dask_without_client_or_without_dask_says_what_to_do(monkeypatch):
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError, match="scheduler="):
        replicate(normal_draw, 3, seed=4, backend="dask")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask were not installed
    with pytest.raises(ConfigError, match=r'osltools\[dask\]'):
        replicate(normal_draw, 3, seed=4, backend="dask")


def test_scheduler_without_dask_backend_is_refused():
    with pytest.raises(ConfigError, match="scheduler='tcp://x:1'.*backend='dask'"):
        replicate(normal_draw, 3, seed=0, scheduler="tcp://x:1")


# ---------------------------------------------------------------------------- seeds
def test_replicate_i_uses_the_ith_spawned_seed():
    run = replicate(normal_draw, 5, seed=99)
    children = np.random.SeedSequence(99).spawn(5)
    expected = [np.random.default_rng(child).normal() for child in children]
    np.testing.assert_array_equal(run.table["value"].to_numpy(), expected)
    assert list(run.table.index) == [0, 1, 2, 3, 4]
    assert run.entropy == 99


def test_seed_kinds_are_reproducible():
    fresh = replicate(normal_draw, 6, seed=None)
    again = replicate(normal_draw, 6, seed=fresh.seed)
    pd.testing.assert_frame_equal(again.table, fresh.table, check_exact=True)
    by_entropy = replicate(normal_draw, 6, seed=fresh.entropy)
    pd.testing.assert_frame_equal(by_entropy.table, fresh.table, check_exact=True)
    sequence = np.random.SeedSequence(7)
    first, second = replicate(normal_draw, 4, seed=sequence), replicate(normal_draw, 4, seed=sequence)
    pd.testing.assert_frame_equal(first.table, second.table)  # a SeedSequence is a recipe, never advanced
    from_gen = replicate(normal_draw, 4, seed=np.random.default_rng(5))
    pd.testing.assert_frame_equal(replicate(normal_draw, 4, seed=np.random.default_rng(5)).table, from_gen.table)
    assert not np.allclose(replicate(normal_draw, 4, seed=8).table, first.table)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_bad_seed(seed):
    with pytest.raises(ConfigError, match="seed="):
        resolve_seed(seed)


# ---------------------------------------------------------------------------- results of a replicate
def test_result_kinds_series_scalar_dict_dataframe():
    series = replicate(lambda rng, i: pd.Series({"a": 1.0, "b": float(i)}), 3, seed=0).table
    assert list(series.columns) == ["a", "b"] and list(series["b"]) == [0.0, 1.0, 2.0]
    assert list(replicate(lambda rng, i: {"x": i, "y": True}, 2, seed=0).table.columns) == ["x", "y"]
    frame = pd.DataFrame([[1.0, 2.0], [3.0, 4.0]], index=pd.Index(["r1", "r2"], name="pc"),
                         columns=pd.Index(["MMLU", "GSM8K"], name="benchmark"))
    run = replicate(lambda rng, i: frame * (i + 1), 3, seed=0, estimate=frame)
    assert run.table.columns.names == ["pc", "benchmark"]
    assert run.table.loc[2, ("r2", "MMLU")] == 9.0
    pd.testing.assert_frame_equal(run.unstack("estimate"), frame, check_names=True)
    pd.testing.assert_frame_equal(run.unstack("mean"), frame * 2.0)
    np.testing.assert_allclose(run.unstack("se").to_numpy(), frame.to_numpy(), rtol=1e-12)  # sd of 1x, 2x, 3x


@pytest.mark.parametrize("bad", [None, "text", [1.0, 2.0], pd.Series({"a": "x"}), pd.Series([1.0, 2.0], index=["a", "a"])])
def test_unusable_result_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="the pipeline returned"):
        replicate(lambda rng, i: bad, 2, seed=0)


def test_unstack_needs_frame_shaped_estimates():
    with pytest.raises(ConfigError, match="unstack"):
        replicate(normal_draw, 3, seed=0).unstack("mean")


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"n": 0}, "n=0"),
        ({"n": 2.5}, "n=2.5"),
        ({"n_jobs": 0}, "n_jobs=0"),
        ({"n_jobs": "2"}, "n_jobs='2'"),
        ({"backend": "ray"}, "backend='ray'.*loky, threading, multiprocessing, sequential, dask"),
        ({"max_failure_share": 1.5}, "max_failure_share=1.5"),
    ],
)
def test_bad_run_options_name_argument_value_and_choices(kwargs, text):
    options = {"n": 3, **kwargs}
    with pytest.raises(ConfigError, match=text):
        replicate(normal_draw, options.pop("n"), seed=0, **options)


# ---------------------------------------------------------------------------- failures
def failing_every_third(rng, index):
    if index % 3 == 0:
        raise ValueError(f"bad replicate {index % 2}")
    return rng.normal()


def test_failures_counted_reported_and_warned_once():
    with pytest.warns(ResamplingWarning) as caught:
        run = replicate(failing_every_third, 10, seed=0)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "4 of 10" in message and "ValueError: bad replicate 0" in message and "2 times" in message
    assert (run.n_requested, run.n_succeeded, run.n_failed) == (10, 6, 4)
    assert list(run.failures.columns) == ["replicate", "error", "message"]
    assert list(run.failures["replicate"]) == [0, 3, 6, 9]
    assert set(run.failures["error"]) == {"ValueError"}
    assert list(run.table.index) == [1, 2, 4, 5, 7, 8]
    assert "Failed replicates" in [caption for caption, _ in run.summary().tables]


def test_too_many_failures_is_a_fit_error():
    with pytest.raises(FitError, match=r"(?s)4 of 10 replicates failed .*max_failure_share=0.3.*replicate 0: ValueError"):
        replicate(failing_every_third, 10, seed=0, max_failure_share=0.3)
    with pytest.raises(FitError, match="3 of 3 replicates failed \\(all failed\\)"):
        replicate(lambda rng, i: 1 / 0, 3, seed=0, max_failure_share=1.0)


def test_keyboard_interrupt_is_not_swallowed():
    def interrupted(rng, index):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replicate(interrupted, 3, seed=0, n_jobs=1)


def test_missing_estimates_are_warned_and_counted():
    with pytest.warns(ResamplingWarning, match="no value in some"):
        run = replicate(lambda rng, i: {"a": 1.0 + i} if i % 2 else {"a": 1.0, "b": 2.0}, 4, seed=0)
    assert list(run.tidy()["n"]) == [4, 2]


def test_resample_without_observed_benchmark_counts_as_failed_replicate():
    panel = small_panel(20)
    scores = panel.scores.assign(Rare=[0.5] + [np.nan] * 19)
    rare = Panel(scores, panel.meta)
    with pytest.warns(ResamplingWarning, match="DataValidationError"):
        run = bootstrap(lambda p, rng: p.scores.mean(), rare, n_boot=60, seed=1)
    # P(model 0 is never drawn) = (19/20)^20 = 0.36
    assert 10 < run.n_failed < 35
    assert set(run.failures["error"]) == {"DataValidationError"}
    assert run.failures["message"].str.contains("'Rare' has no value").all()


def test_bad_bootstrap_and_cv_arguments():
    panel = small_panel()
    with pytest.raises(ConfigError, match="n_boot=0"):
        bootstrap(family_counts, panel, n_boot=0, seed=0)
    with pytest.raises(ConfigError, match="pipeline=3 is not callable"):
        bootstrap(3, panel, seed=0)
    with pytest.raises(ConfigError, match="panel must be an osltools Panel, got DataFrame"):
        cross_validate(family_counts, panel.scores, seed=0)
    with pytest.raises(ConfigError, match="n_folds=21 is larger than the 20 models"):
        cross_validate(family_counts, panel, n_folds=21, seed=0)
    with pytest.raises(ConfigError, match="n_folds=5 is larger than the 4 groups"):
        fold_assignment(panel, n_folds=5, seed=0, groups="family")


def test_failing_full_panel_fit_is_a_fit_error():
    with pytest.raises(FitError, match="full panel.*ZeroDivisionError"):
        bootstrap(lambda p, rng: 1 / 0, small_panel(), n_boot=5, seed=0)


# ---------------------------------------------------------------------------- the bootstrap
def test_bootstrap_se_of_a_mean_matches_the_sampling_se():
    n = 400
    rng = np.random.default_rng(2024)
    models = [f"m{i}" for i in range(n)]
    panel = Panel(pd.DataFrame({"A": rng.uniform(size=n)}, index=models),
                  pd.DataFrame({"family": ["F"] * n, "params_b": 1.0, "tokens_t": 1.0}, index=models))
    run = bootstrap(lambda p, rng: p.scores["A"].mean(), panel, n_boot=400, seed=3)
    # the ideal (B -> infinity) bootstrap SE of a mean is the plug-in SE; with B = 400 the estimate of an SE
    # has a relative sd of about 1 / sqrt(2 (B - 1)) = 3.5%
    plug_in = panel.scores["A"].std(ddof=0) / np.sqrt(n)
    assert run.se()["value"] == pytest.approx(plug_in, rel=0.12)
    known = np.sqrt(1 / 12) / np.sqrt(n)  # the true sampling SE: sd of U(0, 1) over sqrt(n)
    assert run.se()["value"] == pytest.approx(known, rel=0.15)
    assert run.estimate["value"] == pytest.approx(panel.scores["A"].mean(), rel=1e-12)
    pd.testing.assert_series_equal(run.bse, run.se())


def test_percentile_interval_coverage_of_a_mean():
    covered = []
    for dataset in range(150):
        rng = np.random.default_rng(dataset)
        x = rng.exponential(size=60)
        run = replicate(lambda r, i: x[r.integers(0, len(x), len(x))].mean(), 200, seed=dataset)
        ci = run.conf_int(0.1)
        covered.append(ci.loc["value", "lower"] <= 1.0 <= ci.loc["value", "upper"])
    # nominal 0.90; the percentile interval of a skewed mean undercovers a little at n = 60
    assert 0.82 <= np.mean(covered) <= 0.96


def test_intervals_against_hand_computation():
    estimate = pd.Series({"a": 0.3, "b": -1.0})
    run = replicate(lambda rng, i: pd.Series({"a": rng.normal(0.3, 1), "b": rng.gamma(2.0)}), 50, seed=6,
                    estimate=estimate)
    values = run.table.to_numpy()
    lo, hi = np.quantile(values, 0.05, axis=0), np.quantile(values, 0.95, axis=0)
    se = values.std(axis=0, ddof=1)
    np.testing.assert_allclose(run.se().to_numpy(), se, rtol=1e-12)
    np.testing.assert_allclose(run.conf_int(0.1).to_numpy(), np.column_stack([lo, hi]), rtol=1e-12)
    basic = run.conf_int(0.1, method="basic")
    np.testing.assert_allclose(basic["lower"], 2 * estimate.to_numpy() - hi, rtol=1e-12)
    np.testing.assert_allclose(basic["upper"], 2 * estimate.to_numpy() - lo, rtol=1e-12)
    normal = run.conf_int(0.1, method="normal")
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(normal["lower"], estimate.to_numpy() - z * se, rtol=1e-12)
    np.testing.assert_allclose(normal["upper"], estimate.to_numpy() + z * se, rtol=1e-12)
    np.testing.assert_allclose(run.quantile(0.25).to_numpy(), np.quantile(values, 0.25, axis=0), rtol=1e-12)
    assert run.quantile([0.1, 0.9]).shape == (2, 2)


def test_basic_and_normal_need_an_estimate_and_options_are_checked():
    run = replicate(normal_draw, 20, seed=0)
    for method in ("basic", "normal"):
        with pytest.raises(ConfigError, match=f"method='{method}' needs a point estimate"):
            run.conf_int(method=method)
    with pytest.raises(ConfigError, match="method='bca'"):
        run.conf_int(method="bca")
    with pytest.raises(ConfigError, match="alpha=1.5"):
        run.conf_int(1.5)
    with pytest.raises(ConfigError, match="q=2"):
        run.quantile(2)


def test_strata_keep_stratum_sizes_and_source_models_map_back():
    panel = small_panel(22)  # families of 6, 6, 5, 5
    run = bootstrap(family_counts, panel, n_boot=30, seed=2, strata="family")
    expected = panel.meta["family"].value_counts().sort_index().astype(float)
    for _, row in run.table.iterrows():
        pd.testing.assert_series_equal(row, expected, check_names=False)
    unstratified = bootstrap(family_counts, panel, n_boot=30, seed=2)
    assert not (unstratified.table == expected).all().all()
    with pytest.raises(ConfigError, match="strata='size'.*family"):
        bootstrap(family_counts, panel, n_boot=3, seed=2, strata="size")


def test_resampled_panel_given_to_the_pipeline():
    panel = small_panel(10)
    seen = []

    def record(p, rng):
        seen.append(p)
        return p.n_models

    bootstrap(record, panel, n_boot=5, seed=0, backend="sequential")
    full, *resamples = seen
    assert full is panel
    for resampled in resamples:
        assert resampled.n_models == 10
        source = resampled.meta["source_model"]
        pd.testing.assert_frame_equal(resampled.scores.set_axis(source.to_numpy()),
                                      panel.scores.loc[source], check_names=False, check_index_type=False)


# ---------------------------------------------------------------------------- simultaneous bands
def test_sup_t_band_covers_the_whole_true_curve_at_about_the_nominal_rate():
    grid = np.linspace(0, 1, 15)
    truth = np.sin(2 * np.pi * grid)
    labels = pd.Index(range(len(grid)), name="x")
    band_covers, pointwise_covers, critical = [], [], []
    for dataset in range(100):
        rng = np.random.default_rng(dataset)
        n = 100  # curves: a random level and slope plus independent noise at each grid point
        y = truth + rng.normal(0, 0.5, (n, 1)) + rng.normal(0, 0.5, (n, 1)) * grid + rng.normal(0, 0.7, (n, 15))
        estimate = pd.Series(y.mean(axis=0), index=labels)
        run = replicate(lambda r, i: pd.Series(y[r.integers(0, n, n)].mean(axis=0), index=labels), 200,
                        seed=dataset, estimate=estimate)
        band = run.simultaneous_band(list(labels))
        pointwise = run.conf_int()
        band_covers.append(np.all((band["lower"] <= truth) & (truth <= band["upper"])))
        pointwise_covers.append(np.all((pointwise["lower"] <= truth) & (truth <= pointwise["upper"])))
        critical.append(band.attrs["critical_value"])
    # nominal 0.95 for the whole curve (the bootstrap undercovers slightly at n = 100: ~0.92 over 500 seeds)
    assert 0.86 <= np.mean(band_covers) <= 0.99
    assert np.mean(pointwise_covers) < 0.7  # pointwise intervals do not cover the whole curve
    assert stats.norm.ppf(0.975) < np.median(critical) < stats.norm.ppf(1 - 0.025 / 15)  # between pointwise and Bonferroni


def test_sup_t_band_by_hand_and_column_selection():
    estimate = pd.Series([0.0, 1.0, 2.0], index=pd.MultiIndex.from_tuples([("gap", 1), ("gap", 2), ("other", 1)]))
    run = replicate(lambda rng, i: pd.Series(rng.normal(estimate.to_numpy(), [1.0, 2.0, 3.0]), index=estimate.index),
                    300, seed=1, estimate=estimate)
    band = run.simultaneous_band("gap", alpha=0.1)
    assert list(band.index) == [("gap", 1), ("gap", 2)]
    draws = run.table[[("gap", 1), ("gap", 2)]].to_numpy()
    se = draws.std(axis=0, ddof=1)
    q = np.quantile(np.max(np.abs(draws - [0.0, 1.0]) / se, axis=1), 0.9)
    assert band.attrs["critical_value"] == pytest.approx(q, rel=1e-12)
    np.testing.assert_allclose(band["upper"], [0.0, 1.0] + q * se, rtol=1e-12)
    np.testing.assert_allclose(band["lower"], [0.0, 1.0] - q * se, rtol=1e-12)
    pd.testing.assert_frame_equal(run.simultaneous_band([("gap", 1), ("gap", 2)], alpha=0.1), band)
    with pytest.raises(ConfigError, match="selects no estimate"):
        run.simultaneous_band("nothing")
    with pytest.raises(ConfigError, match="needs a point estimate"):
        replicate(normal_draw, 5, seed=0).simultaneous_band(["value"])


# ---------------------------------------------------------------------------- cross-validation
def test_cv_folds_partition_the_models_exactly_once(sim):
    panel, _ = sim
    models = panel.models

    def membership(train, test, rng):
        assert not set(train.models) & set(test.models)
        return pd.Series(models.isin(test.models).astype(float), index=models)

    run = cross_validate(membership, panel, n_folds=7, seed=3)
    assert run.n_requested == 7 and list(run.labels) == [f"fold {k}" for k in range(1, 8)]
    np.testing.assert_array_equal(run.table.sum(axis=0), 1.0)  # each model tested exactly once
    sizes = run.table.sum(axis=1)
    assert sizes.max() - sizes.min() <= 1
    folds = fold_assignment(panel, n_folds=7, seed=3)
    for fold, row in run.table.iterrows():
        assert set(models[row.to_numpy() == 1]) == set(folds.index[folds == fold])


def test_stratified_and_grouped_folds(sim):
    panel, _ = sim
    family = panel.meta["family"]
    stratified = fold_assignment(panel, n_folds=2, seed=0, strata="family")
    per_family = pd.crosstab(family, stratified)
    assert (per_family.max(axis=1) - per_family.min(axis=1)).max() <= 1
    grouped = fold_assignment(panel, n_folds=4, seed=0, groups="family")
    assert (pd.crosstab(family, grouped) > 0).sum(axis=1).max() == 1  # a family never split
    assert grouped.nunique() == 4
    with pytest.raises(ConfigError, match="n_folds=None"):
        fold_assignment(panel, n_folds=None, seed=0)
    with pytest.raises(ConfigError, match="n_folds=1"):
        fold_assignment(panel, n_folds=1, seed=0)
    with pytest.raises(ConfigError, match="not both"):
        fold_assignment(panel, seed=0, strata="family", groups="family")


def test_leave_one_family_out(sim):
    panel, _ = sim

    def held_out(train, test, rng):
        (family,) = test.meta["family"].unique()
        assert family not in set(train.meta["family"])
        return {"n_test": test.n_models, "n_train": train.n_models}

    run = cross_validate(held_out, panel, groups="family", n_folds=None, seed=0)
    assert list(run.labels) == sorted(panel.families)
    counts = panel.meta["family"].value_counts()
    np.testing.assert_array_equal(run.table["n_test"], counts[run.labels].to_numpy())
    np.testing.assert_array_equal(run.table["n_train"] + run.table["n_test"], panel.n_models)
    with pytest.raises(ConfigError, match="cross-validation folds"):
        run.se()
    assert set(run.summary().table("Estimates").columns) == {"mean", "sd", "min", "max", "n"}
    assert list(run.summary().table("Folds").index) == list(run.labels)


# ---------------------------------------------------------------------------- results contract
def test_summary_tidy_repr_and_immutability(sim):
    panel, _ = sim
    with pytest.warns(ResamplingWarning):
        run = bootstrap(mean_scores_with_noise, panel, n_boot=20, seed=5, label="mean scores")
    summary = run.summary()
    assert isinstance(summary, Summary) and summary.title == "mean scores"
    for key in ("Replicates requested", "Succeeded", "Failed", "Seed entropy", "Backend"):
        assert key in summary.header
    assert summary.header["Succeeded"] + summary.header["Failed"] == 20
    tidy = run.tidy()
    assert list(tidy.columns) == ["benchmark", "estimate", "mean", "se", "lower", "upper", "n"]
    assert list(tidy["benchmark"]) == list(panel.benchmarks)
    np.testing.assert_allclose(tidy["se"], run.se().to_numpy(), rtol=1e-12)
    text = repr(run)
    assert "\n" not in text and "bootstrap" in text and "100 models" in text
    assert "mean scores" in str(run)
    with pytest.raises(AttributeError):
        run.table = None
    assert isinstance(run, Replicates)
    restored = pickle.loads(pickle.dumps(run))
    pd.testing.assert_frame_equal(restored.table, run.table)
    assert repr(restored) == repr(run)
    pd.testing.assert_series_equal(run.params, run.estimate)
