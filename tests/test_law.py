"""The sigmoid scaling law: Jacobian, recovery, bounds, standard errors against statsmodels, errors, invariants."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from statsmodels.tools.numdiff import approx_fprime

from osltools.exceptions import ConfigError, DataError, FitError, OSLWarning
from osltools.law import BOUNDS, LawResults, ScalingLaw, resolve_limits, sigmoid_law, sigmoid_law_jacobian

REPO = Path(__file__).resolve().parents[1]


def simulate(seed: int = 0, n: int = 80, beta=(-0.3, 1.2, -0.7), floor=0.0, ceiling=1.0, sd=0.03,
             n_items: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({"PC1": rng.normal(size=n), "PC2": rng.normal(size=n)},
                        index=[f"m{i:03d}" for i in range(n)])
    mean = floor + (ceiling - floor) * expit(beta[0] + beta[1] * data["PC1"] + beta[2] * data["PC2"])
    if n_items:
        data["y"] = rng.binomial(n_items, mean) / n_items
    else:
        data["y"] = np.clip(mean + rng.normal(0, sd, n), 0, 1)
    data["truth"] = mean
    return data


def mean_function(model: ScalingLaw):
    """An independent implementation of the law's mean as a function of the parameter vector."""
    X = model.exog.to_numpy()
    k = X.shape[1]
    est = model.limits.estimated

    def f(theta):
        extra = dict(zip(est, theta[k:]))
        floor, ceiling = extra.get("floor", model.limits.floor[0]), extra.get("ceiling", model.limits.ceiling[0])
        return floor + (ceiling - floor) / (1 + np.exp(-(X @ theta[:k])))

    return f


@pytest.fixture(scope="module")
def data():
    return simulate(seed=3)


@pytest.fixture(scope="module")
def fitted(data):
    return ScalingLaw.from_formula("y ~ PC1 + PC2", data).fit()


# ---------------------------------------------------------------------------------------------- Jacobian
@pytest.mark.parametrize("floor, ceiling", [(0.0, 1.0), ((0.0, 0.2), 1.0), (0.0, (0.8, 1.0)), ((0.0, 0.3), (0.6, 1.0))])
def test_analytic_jacobian_matches_finite_differences(floor, ceiling):
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(30), rng.normal(size=(30, 2))])
    limits = resolve_limits(floor, ceiling, None)
    theta = np.concatenate([rng.normal(size=3), [0.1, 0.85][: len(limits.estimated)] if limits.estimated != ["ceiling"] else [0.85]])
    analytic = sigmoid_law_jacobian(theta, X, limits)
    numeric = approx_fprime(theta, lambda t: sigmoid_law(t, X, limits), centered=True)
    assert analytic.shape == (30, 3 + len(limits.estimated))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------------------------- recovery
@pytest.mark.parametrize("bounds, floor, ceiling", [("none", 0.0, 1.0), ("ceiling", 0.0, 0.9), ("floor", 0.12, 1.0)])
def test_parameters_recovered_on_simulated_sigmoid(bounds, floor, ceiling):
    data = simulate(seed=5, n=400, beta=(-0.3, 1.6, -0.9), floor=floor, ceiling=ceiling, sd=0.01)
    res = ScalingLaw.from_formula("y ~ PC1 + PC2", data, bounds=bounds).fit()
    truth = {"Intercept": -0.3, "PC1": 1.6, "PC2": -0.9, "floor": floor, "ceiling": ceiling}
    for term, value in res.params.items():
        assert abs(value - truth[term]) < 4 * res.bse[term], term
        assert value == pytest.approx(truth[term], abs=0.05)
    assert res.sigma == pytest.approx(0.01, rel=0.15)


def test_bounds_respected_when_truth_lies_outside():
    # true ceiling 0.7 below the allowed [0.8, 1]: the fit ends on the lower bound, held fixed
    low = ScalingLaw.from_formula("y ~ PC1 + PC2", simulate(seed=2, ceiling=0.7, sd=0.01), bounds="ceiling").fit()
    assert low.ceiling == pytest.approx(0.8, abs=1e-6)
    assert low.at_bound["ceiling"] == "lower"
    assert np.isnan(low.bse["ceiling"]) and np.isnan(low.conf_int().loc["ceiling"]).all()
    assert (low.cov_params().loc["ceiling"] == 0).all()
    assert "on its lower bound" in low.summary().as_text()
    assert low.df_resid == low.nobs - 4  # the bounded parameter still counts
    # true floor 0.3 above the allowed [0, 0.2]: upper bound
    high = ScalingLaw.from_formula("y ~ PC1 + PC2", simulate(seed=2, floor=0.3, sd=0.01), bounds="floor").fit()
    assert high.floor == pytest.approx(0.2, abs=1e-6)
    assert high.at_bound["floor"] == "upper"
    assert "[upper bound]" in repr(high)
    # both estimated, within custom ranges
    both = ScalingLaw.from_formula("y ~ PC1 + PC2", simulate(seed=4, floor=0.05, ceiling=0.5),
                                   floor=(0.1, 0.2), ceiling=(0.6, 0.9)).fit()
    assert 0.1 <= both.floor <= 0.2 and 0.6 <= both.ceiling <= 0.9
    assert both.at_bound["floor"] == "lower" and both.at_bound["ceiling"] == "lower"


def test_interior_limits_are_not_flagged(data):
    res = ScalingLaw.from_formula("y ~ PC1 + PC2", simulate(seed=8, ceiling=0.9, n_items=500), bounds="ceiling").fit()
    assert res.at_bound["ceiling"] == ""
    assert 0.8 < res.ceiling < 1.0 and np.isfinite(res.bse["ceiling"])


# ---------------------------------------------------------------------------------------------- standard errors
def _numeric_jacobian(res: LawResults) -> np.ndarray:
    return approx_fprime(res.params.to_numpy(), mean_function(res.model), centered=True)


@pytest.mark.parametrize("bounds", ["none", "ceiling", "floor"])
def test_bse_equals_s2_inverse_jtj_from_numeric_jacobian(bounds):
    data = simulate(seed=6, ceiling=0.9 if bounds == "ceiling" else 1.0, floor=0.1 if bounds == "floor" else 0.0,
                    n_items=400)
    res = ScalingLaw.from_formula("y ~ PC1 + PC2", data, bounds=bounds).fit()
    assert not res.at_bound.any()
    J = _numeric_jacobian(res)
    r = res.resid.to_numpy()
    n, p = J.shape
    s2 = r @ r / (n - p)
    np.testing.assert_allclose(res.cov_params().to_numpy(), s2 * np.linalg.inv(J.T @ J), rtol=1e-5)
    bread = np.linalg.inv(J.T @ J)
    hc1 = n / (n - p) * bread @ (J.T * r**2) @ J @ bread
    np.testing.assert_allclose(res.with_cov_type("sandwich").cov_params().to_numpy(), hc1, rtol=1e-5)
    assert res.rss == pytest.approx(r @ r, rel=1e-12)
    assert res.df_resid == n - p


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.DomainWarning")
def test_fixed_limits_match_statsmodels_glm_gaussian_logit(data, fitted):
    # NLS with a sigmoid mean is a Gaussian GLM with a logit link: same optimum, same s^2 (J'J)^-1
    family = sm.families.Gaussian(sm.families.links.Logit(), check_link=False)
    X = sm.add_constant(data[["PC1", "PC2"]])
    glm = sm.GLM(data["y"], X, family=family).fit(tol=1e-14)
    np.testing.assert_allclose(fitted.params.to_numpy(), glm.params.to_numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fitted.bse.to_numpy(), glm.bse.to_numpy(), rtol=1e-6)
    new = data.iloc[:7]
    ours = fitted.get_prediction(new).summary_frame()
    theirs = glm.get_prediction(sm.add_constant(new[["PC1", "PC2"]], has_constant="add")).summary_frame()
    np.testing.assert_allclose(ours["mean"].to_numpy(), theirs["mean"].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(ours["mean_se"].to_numpy(), theirs["mean_se"].to_numpy(), rtol=1e-6)


def test_sandwich_matches_ols_hc1_on_the_linearised_law(fitted):
    # At the optimum J'r = 0, so OLS of (J theta + r) on J has the law's coefficients and residuals.
    J = _numeric_jacobian(fitted)
    z = J @ fitted.params.to_numpy() + fitted.resid.to_numpy()
    ols = sm.OLS(z, J)
    np.testing.assert_allclose(ols.fit().params, fitted.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(ols.fit().bse, fitted.bse.to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(ols.fit(cov_type="HC1").bse, fitted.with_cov_type("sandwich").bse.to_numpy(), rtol=1e-5)


def test_huber_fit_and_h1_covariance_match_statsmodels_rlm():
    data = simulate(seed=9, sd=0.03)
    data.loc[data.index[:4], "y"] = [0.95, 0.9, 0.02, 0.97]  # outliers
    res = ScalingLaw.from_formula("y ~ PC1 + PC2", data, loss="huber", f_scale=0.04).fit()
    J = _numeric_jacobian(res)
    z = J @ res.params.to_numpy() + res.resid.to_numpy()
    rlm = sm.RLM(z, J, M=sm.robust.norms.HuberT(t=0.04)).fit(
        start_scale=1.0, update_scale=False, tol=1e-13, maxiter=500, conv="coefs")
    np.testing.assert_allclose(rlm.params, res.params.to_numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(rlm.bse, res.bse.to_numpy(), rtol=1e-5)
    # the Huber sandwich by hand: (J'DJ)^-1 J' psi^2 J (J'DJ)^-1 n / (n - p)
    r = -res.resid.to_numpy()
    psi, dpsi = np.clip(r, -0.04, 0.04), (np.abs(r) <= 0.04).astype(float)
    n, p = J.shape
    bread = np.linalg.inv((J.T * dpsi) @ J)
    expected = n / (n - p) * bread @ (J.T * psi**2) @ J @ bread
    np.testing.assert_allclose(res.with_cov_type("sandwich").cov_params().to_numpy(), expected, rtol=1e-5)


def test_huber_resists_outliers_and_reduces_to_least_squares():
    data = simulate(seed=9, sd=0.02)
    clean = ScalingLaw.from_formula("y ~ PC1 + PC2", data).fit()
    dirty = data.copy()
    dirty.loc[dirty.index[:6], "y"] = 1.0 - dirty["truth"].iloc[:6]
    ls = ScalingLaw.from_formula("y ~ PC1 + PC2", dirty).fit()
    huber = ScalingLaw.from_formula("y ~ PC1 + PC2", dirty, loss="huber", f_scale=0.05).fit()
    assert np.abs(huber.params - clean.params).max() < 0.5 * np.abs(ls.params - clean.params).max()
    wide = ScalingLaw.from_formula("y ~ PC1 + PC2", dirty, loss="huber", f_scale=10.0).fit()
    np.testing.assert_allclose(wide.params.to_numpy(), ls.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(wide.bse.to_numpy(), ls.bse.to_numpy(), rtol=1e-6)


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.DomainWarning")
def test_weights_match_weighted_glm_and_are_scale_free(data):
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(data))
    res = ScalingLaw.from_formula("y ~ PC1 + PC2", data, weights=w).fit()
    family = sm.families.Gaussian(sm.families.links.Logit(), check_link=False)
    glm = sm.GLM(data["y"], sm.add_constant(data[["PC1", "PC2"]]), family=family, var_weights=w).fit(tol=1e-14)
    np.testing.assert_allclose(res.params.to_numpy(), glm.params.to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(res.bse.to_numpy(), glm.bse.to_numpy(), rtol=1e-6)
    scaled = ScalingLaw.from_formula("y ~ PC1 + PC2", data.assign(w=w * 37.0), weights="w").fit()
    np.testing.assert_allclose(scaled.params.to_numpy(), res.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(scaled.bse.to_numpy(), res.bse.to_numpy(), rtol=1e-6)
    with pytest.warns(OSLWarning, match="weight 1"):
        res.get_prediction(data.iloc[:3])


# ---------------------------------------------------------------------------------------------- predictions
def test_prediction_se_is_delta_method_by_hand(fitted, data):
    new = pd.DataFrame({"PC1": [-2.0, 0.0, 2.5], "PC2": [0.5, 0.0, -1.0]}, index=["a", "b", "c"])
    frame = fitted.get_prediction(new).summary_frame(alpha=0.1)
    assert list(frame.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
    assert list(frame.index) == ["a", "b", "c"]
    X = sm.add_constant(new).to_numpy()
    g = approx_fprime(fitted.params.to_numpy(), lambda t: expit(X @ t), centered=True)
    cov = fitted.cov_params().to_numpy()
    se = np.sqrt(np.diag(g @ cov @ g.T))
    np.testing.assert_allclose(frame["mean"], expit(X @ fitted.params.to_numpy()), rtol=1e-12)
    np.testing.assert_allclose(frame["mean_se"], se, rtol=1e-6)
    from scipy import stats
    q = stats.t.ppf(0.95, fitted.df_resid)
    np.testing.assert_allclose(frame["mean_ci_upper"] - frame["mean"], q * se, rtol=1e-6)
    np.testing.assert_allclose(frame["obs_ci_upper"] - frame["mean"], q * np.sqrt(se**2 + fitted.sigma**2), rtol=1e-6)
    np.testing.assert_allclose(fitted.predict(new), frame["mean"], rtol=1e-12)
    np.testing.assert_allclose(fitted.predict(), fitted.fittedvalues, rtol=1e-12)


def test_aggregate_capability_and_its_se(fitted, data):
    agg = fitted.aggregate(data.iloc[:5])
    X = sm.add_constant(data[["PC1", "PC2"]].iloc[:5]).to_numpy()
    cov = fitted.cov_params().to_numpy()
    np.testing.assert_allclose(agg["P"], X @ fitted.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(agg["P_se"], np.sqrt(np.diag(X @ cov @ X.T)), rtol=1e-10)
    np.testing.assert_allclose(expit(agg["P"]), fitted.predict(data.iloc[:5]), rtol=1e-12)


def test_prediction_with_missing_predictors(fitted, data):
    new = data.iloc[:3].copy()
    new.loc[new.index[1], "PC2"] = np.nan
    with pytest.raises(DataError, match=new.index[1]):
        fitted.predict(new)
    assert list(fitted.predict(new, missing="drop").index) == [new.index[0], new.index[2]]


def test_benchmark_weights(fitted):
    loadings = pd.DataFrame({"PC1": [0.6, 0.5, 0.62], "PC2": [-0.5, 0.8, 0.3], "PC3": [0.1, 0.2, -0.9]},
                            index=["MMLU", "GSM8K", "HumanEval"])
    out = fitted.benchmark_weights(loadings)
    beta = fitted.params[["PC1", "PC2"]].to_numpy()
    L = loadings[["PC1", "PC2"]].to_numpy()
    cov = fitted.cov_params().loc[["PC1", "PC2"], ["PC1", "PC2"]].to_numpy()
    np.testing.assert_allclose(out["weight"], L @ beta, rtol=1e-12)
    np.testing.assert_allclose(out["se"], np.sqrt(np.diag(L @ cov @ L.T)), rtol=1e-10)
    assert list(out.index) == ["MMLU", "GSM8K", "HumanEval"]
    assert (out["lower"] < out["weight"]).all() and (out["weight"] < out["upper"]).all()
    with pytest.raises(ConfigError, match="PC2"):
        fitted.benchmark_weights(loadings[["PC1", "PC3"]])


# ---------------------------------------------------------------------------------------------- front door
def test_formula_equals_array_entry(data, fitted):
    array = ScalingLaw(data["y"], sm.add_constant(data[["PC1", "PC2"]])).fit()
    np.testing.assert_allclose(array.params.to_numpy(), fitted.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(array.bse.to_numpy(), fitted.bse.to_numpy(), rtol=1e-10)
    assert list(array.params.index) == ["const", "PC1", "PC2"]
    assert list(fitted.params.index) == ["Intercept", "PC1", "PC2"]
    plain = ScalingLaw(data["y"].to_numpy(), sm.add_constant(data[["PC1", "PC2"]].to_numpy())).fit()
    np.testing.assert_allclose(plain.params.to_numpy(), fitted.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(plain.predict(sm.add_constant(data[["PC1", "PC2"]].to_numpy())[:3]),
                               fitted.fittedvalues.iloc[:3], rtol=1e-10)


def test_invariant_to_row_order(data, fitted):
    shuffled = data.sample(frac=1.0, random_state=0)
    res = ScalingLaw.from_formula("y ~ PC1 + PC2", shuffled).fit()
    np.testing.assert_allclose(res.params.to_numpy(), fitted.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy(), fitted.bse.to_numpy(), rtol=1e-6)
    pd.testing.assert_series_equal(res.fittedvalues.reindex(data.index), fitted.fittedvalues, rtol=1e-8)


def test_sign_flip_and_units_of_a_predictor(data, fitted):
    flipped = ScalingLaw.from_formula("y ~ PC1 + PC2", data.assign(PC1=-data["PC1"], PC2=10 * data["PC2"])).fit()
    factor = pd.Series({"Intercept": 1.0, "PC1": -1.0, "PC2": 0.1})
    np.testing.assert_allclose(flipped.params, fitted.params * factor, rtol=1e-7)
    np.testing.assert_allclose(flipped.bse, fitted.bse * factor.abs(), rtol=1e-6)
    np.testing.assert_allclose(flipped.fittedvalues, fitted.fittedvalues, rtol=1e-8)
    # a component's sign flip, applied to the loadings too, leaves the benchmark weights unchanged
    loadings = pd.DataFrame({"PC1": [0.6, 0.5], "PC2": [-0.5, 0.8]}, index=["MMLU", "GSM8K"])
    sign_flipped = loadings.assign(PC1=-loadings["PC1"], PC2=10 * loadings["PC2"])
    np.testing.assert_allclose(flipped.benchmark_weights(sign_flipped), fitted.benchmark_weights(loadings), rtol=1e-6)


def test_formula_transforms_odd_names_and_missing_rows(data):
    frame = data.rename(columns={"PC1": "odd-name"}).assign(size=10 ** (data["PC2"] + 1))
    frame.loc[frame.index[:3], "y"] = np.nan
    law = ScalingLaw.from_formula('y ~ Q("odd-name") + np.log10(size)', frame)
    assert law.nobs == len(frame) - 3 and law.dropped == tuple(frame.index[:3])
    res = law.fit()
    assert list(res.params.index) == ["Intercept", 'Q("odd-name")', "np.log10(size)"]
    # log10(size) = PC2 + 1, so the intercept absorbs the shift and the slopes are those of PC1, PC2
    direct = ScalingLaw.from_formula("y ~ PC1 + PC2", data.iloc[3:]).fit()
    np.testing.assert_allclose(res.params.iloc[1:].to_numpy(), direct.params.iloc[1:].to_numpy(), rtol=1e-7)
    assert res.params.iloc[0] == pytest.approx(direct.params.iloc[0] - direct.params.iloc[2], rel=1e-7)
    assert "3 rows left out" in res.summary().as_text()


def test_families_reported_when_data_has_them(data):
    res = ScalingLaw.from_formula("y ~ PC1", data.assign(family=np.arange(len(data)) % 7)).fit()
    assert "(7 families)" in repr(res)


# ---------------------------------------------------------------------------------------------- errors
def test_target_outside_unit_interval_is_named(data):
    bad = data.assign(y=data["y"] * 100)
    with pytest.raises(DataError, match=r"target 'y' has \d+ values outside \[0, 1\].*rescale"):
        ScalingLaw.from_formula("y ~ PC1", bad)


def test_too_few_rows(data):
    with pytest.raises(FitError, match="need more models than parameters"):
        ScalingLaw.from_formula("y ~ PC1 + PC2", data.iloc[:3]).fit()
    with pytest.raises(FitError, match="need more models than parameters"):
        ScalingLaw.from_formula("y ~ PC1 + PC2", data.iloc[:4], bounds="floor").fit()


def test_unknown_column(data):
    with pytest.raises(ConfigError, match="PC9"):
        ScalingLaw.from_formula("y ~ PC9", data)
    with pytest.raises(ConfigError, match="weights='nope'"):
        ScalingLaw.from_formula("y ~ PC1", data, weights="nope")


def test_degenerate_design_and_target(data):
    with pytest.raises(FitError, match=r"degenerate.*\['PC1', 'twin'\]"):
        ScalingLaw.from_formula("y ~ PC1 + twin", data.assign(twin=2 * data["PC1"])).fit()
    with pytest.raises(FitError, match="single value"):
        ScalingLaw.from_formula("y ~ PC1", data.assign(y=0.3)).fit()
    # two distinct predictor values cannot identify slope, intercept, floor and ceiling
    two = data.assign(PC1=np.where(data["PC1"] > 0, 1.0, -1.0))
    with pytest.raises(FitError, match="not identified"):
        ScalingLaw.from_formula("y ~ PC1", two, floor=(0.0, 0.3), ceiling=(0.7, 1.0)).fit()


def test_perfectly_separated_target_has_no_finite_optimum():
    x = np.linspace(-2, 2, 40)
    step = pd.DataFrame({"x": x, "y": (x > 0.05).astype(float)})
    with pytest.raises(FitError, match="no finite optimum"):
        ScalingLaw.from_formula("y ~ x", step).fit()
    # the same data with noise and a gradual rise fit fine
    smooth = step.assign(y=expit(3 * x) * 0.98 + 0.01)
    assert ScalingLaw.from_formula("y ~ x", smooth).fit().params["x"] == pytest.approx(3.0, rel=0.1)


def test_configuration_errors(data):
    with pytest.raises(ConfigError, match="bounds='both'"):
        ScalingLaw.from_formula("y ~ PC1", data, bounds="both")
    with pytest.raises(ConfigError, match="either bounds"):
        ScalingLaw.from_formula("y ~ PC1", data, bounds="floor", ceiling=0.9)
    with pytest.raises(ConfigError, match="overlap"):
        ScalingLaw.from_formula("y ~ PC1", data, floor=(0.0, 0.6), ceiling=(0.5, 1.0))
    with pytest.raises(ConfigError, match="ceiling=1.5"):
        ScalingLaw.from_formula("y ~ PC1", data, ceiling=1.5)
    with pytest.raises(ConfigError, match="loss='cauchy'"):
        ScalingLaw.from_formula("y ~ PC1", data, loss="cauchy")
    res = ScalingLaw.from_formula("y ~ PC1", data).fit()
    with pytest.raises(ConfigError, match="cov_type='HC3'"):
        res.with_cov_type("HC3")
    with pytest.raises(ConfigError, match="alpha=1.5"):
        res.conf_int(1.5)
    with pytest.raises(ConfigError, match="max_nfev=0"):
        ScalingLaw.from_formula("y ~ PC1", data).fit(max_nfev=0)
    with pytest.raises(DataError, match="not numeric"):
        ScalingLaw(data["y"].astype(str), data[["PC1"]])
    with pytest.raises(DataError, match="positive"):
        ScalingLaw.from_formula("y ~ PC1", data, weights=-np.ones(len(data)))


def test_named_bounds_are_the_papers():
    assert BOUNDS["ceiling"] == {"floor": 0.0, "ceiling": (0.8, 1.0)}
    assert BOUNDS["floor"] == {"floor": (0.0, 0.2), "ceiling": 1.0}


# ---------------------------------------------------------------------------------------------- results contract
def test_results_contract(fitted):
    assert "\n" not in repr(fitted) and repr(fitted).startswith("<LawResults y ~ PC1 + PC2: 80 models")
    tidy = fitted.tidy()
    assert list(tidy["term"]) == list(fitted.params.index)
    np.testing.assert_allclose(tidy["estimate"], fitted.params, rtol=0)
    np.testing.assert_allclose(tidy["conf_high"], fitted.conf_int()["upper"], rtol=0)
    summary = fitted.summary()
    assert summary.table("Parameters")["coef"].equals(fitted.params)
    assert "floor = 0 (fixed)" in summary.as_text()
    assert "Sigmoid scaling law" in summary.as_markdown() and "<table" in summary.as_html()
    with pytest.raises(AttributeError):
        fitted.rss = 0.0
    params = fitted.params
    params.iloc[0] = 99.0
    assert fitted.params.iloc[0] != 99.0
    assert (fitted.pvalues < 1e-6).all()


def test_smoke_on_public_main_panel(main_panel):
    frame = main_panel.frame()
    res = ScalingLaw.from_formula("MMLU ~ GSM8K + HellaSwag", frame, bounds="floor").fit()
    assert res.nobs == int(frame[["MMLU", "GSM8K", "HellaSwag"]].notna().all(axis=1).sum())
    assert res.params["GSM8K"] > 0
    assert 0 <= res.floor <= 0.2
    pred = res.get_prediction(frame.dropna(subset=["GSM8K", "HellaSwag"])).summary_frame()
    assert pred["mean"].between(0, 1).all()
    baseline = ScalingLaw.from_formula("MMLU ~ log10_flops", frame, bounds="floor").fit()
    assert baseline.nobs == int(frame[["MMLU", "log10_flops"]].notna().all(axis=1).sum())


# ---------------------------------------------------------------------------------------------- coverage
def _coverage_module():
    spec = importlib.util.spec_from_file_location("law_coverage", REPO / "analyses" / "law_coverage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_interval_coverage_small_seeded_study():
    cov = _coverage_module()
    scenarios = tuple(s for s in cov.SCENARIOS if s.name in ("gaussian, fixed floor/ceiling",
                                                                "binomial(500), ceiling in [0.8, 1]"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = cov.coverage_table(20, seed=7, scenarios=scenarios)
    params = table[~table["quantity"].str.contains("@")]
    means = table[table["quantity"].str.startswith("mean@")]
    assert not table.attrs["failed_fits"]
    assert (params["n"] >= 18).all()
    # loose bounds for 20 seeds: each well above what a halved standard error would give (~0.68)
    assert params.groupby("cov_type")["coverage"].mean().min() >= 0.85
    assert means.groupby("cov_type")["coverage"].mean().min() >= 0.8
