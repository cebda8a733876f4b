"""f-equivalent FLOPs: exact recovery, residual identity, delta-method SEs by finite differences, the w rule, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit
from statsmodels.tools.numdiff import approx_fprime

from osltools.equivalent import EquivalentFlops, equivalent_flops, satterthwaite_df
from osltools.exceptions import ConfigError, FitError, OSLWarning, SmallFamilyWarning
from osltools.law import ScalingLaw


def panel_frame(seed: int = 0, n_ref: int = 6, ref_noise: float = 0.05, n_other: int = 60) -> pd.DataFrame:
    """Reference family 'Ref' whose capabilities are (nearly) log-linear in compute; others scattered."""
    rng = np.random.default_rng(seed)
    x_ref = np.linspace(21.5, 24.0, n_ref)
    x_other = rng.uniform(20.5, 24.5, n_other)
    families = ["Ref"] * n_ref + list(rng.choice(["A", "B", "C", "D"], n_other))
    log_c = np.concatenate([x_ref, x_other])
    offset = np.where(np.array(families) == "Ref", 0.0, rng.normal(0.3, 0.4, len(log_c)))
    pc1 = 0.6 * (log_c - 22.5) + offset + np.concatenate([rng.normal(0, ref_noise, n_ref), np.zeros(n_other)])
    pc2 = 0.4 * pc1 + rng.normal(0, 0.5, len(log_c))
    y = 0.9 * expit(-0.5 + 2.0 * pc1 - 0.8 * pc2) + rng.normal(0, 0.02, len(log_c))
    return pd.DataFrame({"family": families, "log10_flops": log_c, "PC1": pc1, "PC2": pc2, "y": np.clip(y, 0, 1)},
                        index=[f"m{i:03d}" for i in range(len(log_c))])


def fit_law(frame: pd.DataFrame, **kw):
    return ScalingLaw.from_formula("y ~ PC1 + PC2", frame, **kw).fit()


@pytest.fixture(scope="module")
def frame():
    return panel_frame()


@pytest.fixture(scope="module")
def law(frame):
    return fit_law(frame, bounds="ceiling")


@pytest.fixture(scope="module")
def eq(law, frame):
    return equivalent_flops(law, frame, reference_family="Ref")


def test_exact_line_recovers_w_b_and_actual_compute():
    frame = panel_frame(ref_noise=0.0)
    frame.loc[frame["family"] == "Ref", "PC2"] = 0.4 * frame["PC1"]  # P exactly linear in log C on Ref
    law = fit_law(frame)
    a, b1, b2 = law.params[["Intercept", "PC1", "PC2"]]
    eq = equivalent_flops(law, frame, reference_family="Ref")
    slope = 0.6 * (b1 + 0.4 * b2)  # P = a + (b1 + 0.4 b2) * 0.6 (log C - 22.5)
    assert eq.params["w"] == pytest.approx(slope, rel=1e-10)
    assert eq.params["b"] == pytest.approx(a - slope * 22.5, rel=1e-10)
    table = eq.per_model()
    ref = table[table["reference"]]
    np.testing.assert_allclose(ref["log10_flops_equivalent"], ref["log10_flops"], rtol=0, atol=1e-9)
    assert eq.ols.ssr == pytest.approx(0.0, abs=1e-18)


def test_reference_models_map_to_compute_up_to_ols_residual(eq):
    table = eq.per_model()
    ref = table.loc[list(eq.reference_models)]
    np.testing.assert_allclose(ref["log10_flops_equivalent"] - ref["log10_flops"], eq.ols.resid / eq.params["w"],
                               rtol=1e-9, atol=1e-12)
    assert ref["reference"].all() and not table.drop(index=ref.index)["reference"].any()


def test_p_is_the_laws_aggregate(eq, law, frame):
    agg = law.aggregate(frame)
    table = eq.per_model()
    np.testing.assert_allclose(table["P"], agg["P"], rtol=1e-12)
    np.testing.assert_allclose(table["P_se"], agg["P_se"], rtol=1e-10)


def test_curve_through_p_equals_the_laws_prediction(eq, law, frame):
    table = eq.per_model()
    curve = eq.curve(table["log10_flops_equivalent"].to_numpy())
    np.testing.assert_allclose(curve["mean"].to_numpy(), law.predict(frame).to_numpy(), rtol=1e-10)
    assert curve.index.name == "log10_flops_equivalent"
    assert list(curve.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
    default = eq.curve(n=25)
    assert len(default) == 25 and default.index.min() == pytest.approx(table["log10_flops_equivalent"].min())


def _reference_line(X: np.ndarray, beta: np.ndarray, ref: np.ndarray, log_c_ref: np.ndarray):
    P = X @ beta
    w, b = np.polyfit(log_c_ref, P[ref], 1)
    return P, w, b


def test_per_model_se_by_finite_differences(eq, law, frame):
    """Independent delta method: numeric gradient of C-bar w.r.t. beta (refitting the line) plus the OLS part."""
    X = law.design_matrix(frame).to_numpy()
    ref = frame.index.isin(eq.reference_models)
    log_c_ref = frame.loc[ref, "log10_flops"].to_numpy()
    beta = law.params.iloc[:3].to_numpy()

    def c_bar(bt):
        P, w, b = _reference_line(X, bt, ref, log_c_ref)
        return (P - b) / w

    G = approx_fprime(beta, c_bar, centered=True)
    var_law = np.einsum("ij,jk,ik->i", G, law.cov_params().iloc[:3, :3].to_numpy(), G)
    P, w, b = _reference_line(X, beta, ref, log_c_ref)
    C = (P - b) / w
    Z = np.column_stack([log_c_ref, np.ones(ref.sum())])
    resid = P[ref] - Z @ [w, b]
    cov_line = resid @ resid / (ref.sum() - 2) * np.linalg.inv(Z.T @ Z)
    d_line = np.column_stack([-C / w, -np.ones_like(C) / w])
    var_line = np.einsum("ij,jk,ik->i", d_line, cov_line, d_line)
    table = eq.per_model(alpha=0.1)
    np.testing.assert_allclose(table["log10_flops_equivalent"], C, rtol=1e-10)
    np.testing.assert_allclose(table["se"], np.sqrt(var_law + var_line), rtol=1e-5)
    df = (var_law + var_line) ** 2 / (var_law**2 / law.df_resid + var_line**2 / (ref.sum() - 2))
    np.testing.assert_allclose(table["df"], df, rtol=1e-5)
    q = stats.t.ppf(0.95, df)
    np.testing.assert_allclose(table["ci_upper"] - C, q * table["se"], rtol=1e-8)


def test_curve_se_by_finite_differences(eq, law, frame):
    X = law.design_matrix(frame).to_numpy()
    ref = frame.index.isin(eq.reference_models)
    log_c_ref = frame.loc[ref, "log10_flops"].to_numpy()
    grid = np.array([21.0, 22.5, 24.0, 25.0])

    def curve(theta):
        _, w, b = _reference_line(X, theta[:3], ref, log_c_ref)
        ceiling = theta[3]
        return ceiling * expit(w * grid + b)

    theta = law.params.to_numpy()
    assert list(law.params.index) == ["Intercept", "PC1", "PC2", "ceiling"] and not law.at_bound.any()
    G = approx_fprime(theta, curve, centered=True)
    var_law = np.einsum("ij,jk,ik->i", G, law.cov_params().to_numpy(), G)
    w, b = eq.params
    s = expit(w * grid + b)
    d_line = (law.ceiling * s * (1 - s))[:, None] * np.column_stack([grid, np.ones_like(grid)])
    var_line = np.einsum("ij,jk,ik->i", d_line, eq.ols.cov_params(), d_line)
    out = eq.curve(grid)
    np.testing.assert_allclose(out["mean"], curve(theta), rtol=1e-10)
    np.testing.assert_allclose(out["mean_se"], np.sqrt(var_law + var_line), rtol=1e-5)
    obs = np.sqrt(var_law + var_line + law.sigma**2)
    assert (out["obs_ci_upper"] - out["mean"] > out["mean_ci_upper"] - out["mean"]).all()
    q = stats.t.ppf(0.975, satterthwaite_df(var_law, law.df_resid, var_line, eq.df_line))
    np.testing.assert_allclose(out["mean_ci_upper"] - out["mean"], q * np.sqrt(var_law + var_line), rtol=1e-5)
    np.testing.assert_allclose(out["obs_ci_upper"] - out["mean"], q * obs, rtol=1e-5)


def test_line_covariance_adds_the_laws_part(eq, law):
    G = eq._dline_dbeta
    expected = eq.ols.cov_params() + G @ law.cov_params().iloc[:3, :3].to_numpy() @ G.T
    np.testing.assert_allclose(eq.cov_params().to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(eq.bse, np.sqrt(np.diag(expected)), rtol=1e-12)
    ci = eq.conf_int(0.05)
    assert (ci["lower"] < eq.params).all() and (eq.params < ci["upper"]).all()


def test_invariant_to_row_order(eq, law, frame):
    shuffled = frame.sample(frac=1.0, random_state=3)
    again = equivalent_flops(fit_law(shuffled, bounds="ceiling"), shuffled, reference_family="Ref")
    np.testing.assert_allclose(again.params, eq.params, rtol=1e-7)
    a, b = again.per_model().loc[frame.index], eq.per_model()
    np.testing.assert_allclose(a["log10_flops_equivalent"], b["log10_flops_equivalent"], rtol=1e-7)
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-5)


def test_recovers_the_true_reference_curve_on_a_simulated_panel(sim):
    panel, truth = sim
    frame = panel.frame().join(truth.capabilities)
    res = ScalingLaw.from_formula("base_task ~ C1 + C2 + C3", frame).fit()
    eq = equivalent_flops(res, frame, reference_family=truth.reference_family)
    ref_x = frame.loc[frame["family"] == truth.reference_family, "log10_flops"]
    grid = np.linspace(ref_x.min(), ref_x.max(), 7)
    curve = eq.curve(grid, alpha=0.01)
    true = truth.target_curve("base_task", grid)
    assert np.all(np.abs(curve["mean"] - true) < 0.06)
    inside = (curve["obs_ci_lower"] <= true) & (true <= curve["obs_ci_upper"])
    assert inside.all()


def test_panel_input_and_results_contract(sim):
    panel, truth = sim
    res = ScalingLaw.from_formula("base_task ~ MMLU + GSM8K", panel).fit()
    eq = equivalent_flops(res, panel, reference_family=truth.reference_family)
    assert isinstance(eq, EquivalentFlops)
    assert "\n" not in repr(eq) and repr(eq).startswith(f"<EquivalentFlops {truth.reference_family}-equivalent")
    tidy = eq.tidy()
    assert list(tidy["term"][:2]) == ["w", "b"] and len(tidy) == 2 + len(eq.per_model())
    np.testing.assert_allclose(tidy["estimate"][2:], eq.per_model()["log10_flops_equivalent"], rtol=0)
    text = eq.summary().as_text()
    assert "Reference line P = w log10 C + b" in text and "Welch-Satterthwaite" in text
    assert eq.summary().table("Models").shape[0] == panel.n_models


def test_models_without_predictors_are_listed(frame, law):
    gaps = frame.copy()
    gaps.loc[gaps.index[-2:], "PC2"] = np.nan
    eq = equivalent_flops(law, gaps, reference_family="Ref")
    assert eq.excluded == tuple(gaps.index[-2:])
    assert len(eq.per_model()) == len(gaps) - 2
    assert "2 models without all the law's predictors" in eq.summary().as_text()


# ---------------------------------------------------------------------------------------------- the w rule and errors
def test_unknown_reference_family_lists_known(law, frame):
    with pytest.raises(ConfigError, match=r"'Llama-2' is not in the data \(known families: A, B, C, D, Ref\)"):
        equivalent_flops(law, frame)


def test_fewer_than_two_reference_models(law, frame):
    one = frame.drop(index=frame.index[frame["family"] == "Ref"][1:])
    with pytest.raises(FitError, match="has 1 models with compute.*need at least 2"):
        equivalent_flops(law, one, reference_family="Ref")
    no_compute = frame.copy()
    no_compute.loc[no_compute.index[1:6], "log10_flops"] = np.nan
    with pytest.raises(FitError, match="choose another reference_family"):
        equivalent_flops(law, no_compute, reference_family="Ref")


def test_flat_reference_family_is_rejected_when_testable(law, frame):
    flat = frame.copy()
    ref = flat["family"] == "Ref"
    rng = np.random.default_rng(0)
    flat.loc[ref, ["PC1", "PC2"]] = rng.normal(0, 0.3, size=(ref.sum(), 2))  # capabilities unrelated to compute
    with pytest.raises(FitError, match="not distinguishable from 0"):
        equivalent_flops(law, flat, reference_family="Ref")


@pytest.mark.parametrize("n_ref, text", [(3, "rests on 1 df"), (2, "is not estimable")])
def test_small_reference_family_warns(law, frame, n_ref, text):
    small = frame.drop(index=frame.index[frame["family"] == "Ref"][n_ref:])
    with pytest.warns(SmallFamilyWarning, match=text):
        eq = equivalent_flops(law, small, reference_family="Ref")
    assert eq.df_line == n_ref - 2
    table = eq.per_model()
    assert np.isfinite(table["se"]).all() and (table["se"] > 0).all()
    if n_ref == 2:
        np.testing.assert_allclose(eq.cov_params().to_numpy(), eq._cov_law_wb, rtol=0)
        np.testing.assert_allclose(table["df"], law.df_resid, rtol=1e-12)


def test_negative_slope_warns(law, frame):
    backwards = frame.copy()
    ref = backwards["family"] == "Ref"
    backwards.loc[ref, "log10_flops"] = backwards.loc[ref, "log10_flops"].to_numpy()[::-1]
    with pytest.warns(OSLWarning, match="w = .* < 0"):
        equivalent_flops(law, backwards, reference_family="Ref")


def test_column_errors(law, frame):
    with pytest.raises(ConfigError, match="compute='flops'"):
        equivalent_flops(law, frame, reference_family="Ref", compute="flops")
    with pytest.raises(ConfigError, match="raw FLOPs"):
        equivalent_flops(law, frame.assign(flops=10 ** frame["log10_flops"]), reference_family="Ref", compute="flops")
    with pytest.raises(ConfigError, match="family='fam'"):
        equivalent_flops(law, frame, reference_family="Ref", family="fam")
    eq = equivalent_flops(law, frame, reference_family="Ref")
    with pytest.raises(ConfigError, match="alpha"):
        eq.curve([22.0], alpha=0)


def test_llama2_on_public_data(main_panel):
    frame = main_panel.frame()
    res = ScalingLaw.from_formula("GSM8K ~ MMLU + HellaSwag + ARC_C", frame.rename(columns={"ARC-C": "ARC_C"}),
                                  bounds="ceiling").fit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eq = equivalent_flops(res, frame.rename(columns={"ARC-C": "ARC_C"}))
    assert any(issubclass(w.category, SmallFamilyWarning) for w in caught)  # Llama-2 has 3 models: 1 df
    assert eq.df_line == 1 and len(eq.reference_models) == 3
    assert eq.params["w"] > 0
    table = eq.per_model()
    assert table.loc["meta-llama/Llama-2-70b-hf", "log10_flops_equivalent"] > table.loc[
        "meta-llama/Llama-2-7b-hf", "log10_flops_equivalent"]
