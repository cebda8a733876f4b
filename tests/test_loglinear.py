"""FamilyScaling: every number against a closed form or an explicit statsmodels comparison, invariants, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.regression.mixed_linear_model import MixedLM
from statsmodels.stats.anova import anova_lm

from osltools import loglinear
from osltools.exceptions import ConfigError, ConvergenceWarning, DataError, SmallFamilyWarning
from osltools.loglinear import FamilyScaling, cooks_threshold

from .analysis_scripts import load_analysis

# family: (models, slope of PC1, level of PC1 at 22.5, slope of PC2)
SPEC = {"A": (7, 0.40, 0.10, 0.05), "B": (5, 0.25, -0.20, -0.10), "C": (3, 0.55, 0.30, 0.00),
        "D": (4, 0.30, 0.00, 0.08), "E": (2, 0.30, 0.00, 0.00)}
NOISE = 0.05


def toy_frame(seed: int = 3) -> pd.DataFrame:
    """Five families (E too small, C with one residual df), one model without compute, one without family."""
    rng = np.random.default_rng(seed)
    rows = []
    for family, (n, slope, level, slope2) in SPEC.items():
        x = np.sort(rng.uniform(20.5, 24.5, n))
        for i, xi in enumerate(x):
            params_b = 10 ** ((xi - 12.0) / 2 - 9)
            rows.append({"model": f"{family.lower()}-{i}", "family": family, "log10_flops": xi,
                         "PC1": level + slope * (xi - 22.5) + rng.normal(0, NOISE),
                         "PC2": slope2 * (xi - 22.5) + rng.normal(0, NOISE), "PC3": rng.normal(0, NOISE),
                         "params_b": params_b, "tokens_t": 10 ** xi / (6 * params_b * 1e9) / 1e12, "flops": 10**xi})
    rows.append({"model": "a-nocompute", "family": "A", "log10_flops": np.nan, "PC1": 0.0, "PC2": 0.0, "PC3": 0.0})
    rows.append({"model": "orphan", "family": None, "log10_flops": 22.0, "PC1": 0.0, "PC2": 0.0, "PC3": 0.0})
    return pd.DataFrame(rows).set_index("model")


def fit(frame: pd.DataFrame | None = None, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallFamilyWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return FamilyScaling(toy_frame() if frame is None else frame, **options).fit()


@pytest.fixture(scope="module")
def toy():
    return toy_frame()


@pytest.fixture(scope="module")
def res(toy):
    return fit(toy, components=["PC1", "PC2"])


def used(frame: pd.DataFrame) -> pd.DataFrame:
    """The models the fits should use: family and compute present, family with >= 3 models."""
    data = frame.dropna(subset=["family", "log10_flops"])
    return data[data["family"].isin(["A", "B", "C", "D"])]


def holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    m = len(p)
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1)
    return out


def closed_form(x: np.ndarray, y: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    n = len(x)
    xbar, ybar = x.mean(), y.mean()
    sxx = ((x - xbar) ** 2).sum()
    slope = ((x - xbar) * (y - ybar)).sum() / sxx
    intercept = ybar - slope * xbar
    resid = y - intercept - slope * x
    s2 = (resid**2).sum() / (n - 2)
    slope_se = np.sqrt(s2 / sxx)
    intercept_se = np.sqrt(s2 * (1 / n + xbar**2 / sxx))
    q = stats.t.ppf(1 - alpha / 2, n - 2)
    t = slope / slope_se
    return {
        "n": n, "df_resid": n - 2, "slope": slope, "slope_se": slope_se, "slope_lower": slope - q * slope_se,
        "slope_upper": slope + q * slope_se, "slope_t": t, "slope_p": 2 * stats.t.sf(abs(t), n - 2),
        "intercept": intercept, "intercept_se": intercept_se, "intercept_lower": intercept - q * intercept_se,
        "intercept_upper": intercept + q * intercept_se,
        "r2": 1 - (resid**2).sum() / ((y - ybar) ** 2).sum(), "resid_sd": np.sqrt(s2),
    }


def quadratic_term(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Coefficient, SE and p-value of the squared term in OLS on 1, x, x^2 (numpy)."""
    design = np.column_stack([np.ones_like(x), x - x.mean(), (x - x.mean()) ** 2])
    coef, ssr, *_ = np.linalg.lstsq(design, y, rcond=None)
    df = len(x) - 3
    se = np.sqrt(ssr[0] / df * np.linalg.inv(design.T @ design)[2, 2])
    return coef[2], se, 2 * stats.t.sf(abs(coef[2] / se), df)


def block_design(data: pd.DataFrame, *, family_slopes: bool) -> np.ndarray:
    dummies = pd.get_dummies(data["family"]).to_numpy(dtype=float)
    x = data["log10_flops"].to_numpy()[:, None]
    return np.hstack([dummies, dummies * x if family_slopes else x])


def ssr(design: np.ndarray, y: np.ndarray) -> float:
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    return float(((y - design @ coef) ** 2).sum())


# --------------------------------------------------------------------------- per-family table
@pytest.mark.parametrize("component", ["PC1", "PC2"])
def test_family_table_matches_closed_form(res, toy, component):
    table = res.family_table(component)
    data = used(toy)
    assert list(table.index) == ["A", "B", "C", "D"]
    for family, rows in data.groupby("family"):
        expected = closed_form(rows["log10_flops"].to_numpy(), rows[component].to_numpy())
        for column, value in expected.items():
            assert table.at[family, column] == pytest.approx(value, rel=1e-9, abs=1e-12), (family, column)
        assert table.at[family, "compute_min"] == rows["log10_flops"].min()
        assert table.at[family, "compute_max"] == rows["log10_flops"].max()
    np.testing.assert_allclose(table["slope_p_adj"], holm(table["slope_p"].to_numpy()), rtol=1e-12)
    assert table["fragile"].to_dict() == {"A": False, "B": False, "C": True, "D": False}
    assert (table["cov_type"] == "nonrobust").all()


def test_quadratic_test_per_family(res, toy):
    table = res.family_table("PC1")
    data = used(toy)
    assert np.isnan(table.at["C", "quad_p"])  # three models: no residual df left for a quadratic term
    tested = [f for f in table.index if f != "C"]
    for family in tested:
        rows = data[data["family"] == family]
        coef, se, p = quadratic_term(rows["log10_flops"].to_numpy(), rows["PC1"].to_numpy())
        assert table.at[family, "quad_coef"] == pytest.approx(coef, rel=1e-8)
        assert table.at[family, "quad_se"] == pytest.approx(se, rel=1e-8)
        assert table.at[family, "quad_p"] == pytest.approx(p, rel=1e-8)
    np.testing.assert_allclose(table.loc[tested, "quad_p_adj"], holm(table.loc[tested, "quad_p"].to_numpy()),
                               rtol=1e-12)


def test_params_bse_conf_int(res, toy):
    params, bse, ci = res.params, res.bse, res.conf_int(alpha=0.1)
    assert params.index.names == ["component", "family", "term"]
    data = used(toy)
    rows = data[data["family"] == "B"]
    expected = closed_form(rows["log10_flops"].to_numpy(), rows["PC2"].to_numpy(), alpha=0.1)
    assert params[("PC2", "B", "slope")] == pytest.approx(expected["slope"], rel=1e-10)
    assert bse[("PC2", "B", "intercept")] == pytest.approx(expected["intercept_se"], rel=1e-10)
    assert ci.loc[("PC2", "B", "slope"), "lower"] == pytest.approx(expected["slope_lower"], rel=1e-10)
    assert ci.loc[("PC2", "B", "slope"), "upper"] == pytest.approx(expected["slope_upper"], rel=1e-10)
    assert list(ci.columns) == ["lower", "upper"] and len(params) == 2 * 2 * 4


# --------------------------------------------------------------------------- pooled models
def test_homogeneity_matches_anova_lm_and_closed_form(res, toy):
    data = used(toy)
    common = smf.ols("PC1 ~ C(family) + log10_flops", data).fit()
    slopes = smf.ols("PC1 ~ C(family) * log10_flops", data).fit()
    table = anova_lm(common, slopes)
    pooled = res.pooled.loc["PC1"]
    assert pooled["homogeneity_F"] == pytest.approx(table["F"].iloc[1], rel=1e-10)
    assert pooled["homogeneity_p"] == pytest.approx(table["Pr(>F)"].iloc[1], rel=1e-10)
    y = data["PC1"].to_numpy()
    ssr_c, ssr_s = ssr(block_design(data, family_slopes=False), y), ssr(block_design(data, family_slopes=True), y)
    n, k = len(data), 4
    f_value = ((ssr_c - ssr_s) / (k - 1)) / (ssr_s / (n - 2 * k))
    assert pooled["homogeneity_F"] == pytest.approx(f_value, rel=1e-9)
    assert pooled["homogeneity_p"] == pytest.approx(stats.f.sf(f_value, k - 1, n - 2 * k), rel=1e-8)
    assert (pooled["homogeneity_df_num"], pooled["homogeneity_df_den"]) == (k - 1, n - 2 * k)
    # the common slope: OLS on family dummies and compute
    design = block_design(data, family_slopes=False)
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    assert pooled["common_slope"] == pytest.approx(coef[-1], rel=1e-10)


def test_pooled_quadratic_and_reset(res, toy):
    data = used(toy).copy()
    y = data["PC1"].to_numpy()
    x = data["log10_flops"].to_numpy()
    design = np.column_stack([block_design(data, family_slopes=True), (x - res.reference_compute) ** 2])
    coef, ssr_q, *_ = np.linalg.lstsq(design, y, rcond=None)
    df = len(y) - design.shape[1]
    se = np.sqrt(ssr_q[0] / df * np.linalg.inv(design.T @ design)[-1, -1])
    pooled = res.pooled.loc["PC1"]
    assert pooled["quad_coef"] == pytest.approx(coef[-1], rel=1e-8)
    assert pooled["quad_p"] == pytest.approx(2 * stats.t.sf(abs(coef[-1] / se), df), rel=1e-7)
    # RESET: add squared and cubed fitted values of the family-slopes model, F-test them
    fitted = block_design(data, family_slopes=True) @ np.linalg.lstsq(block_design(data, family_slopes=True), y,
                                                                      rcond=None)[0]
    base = block_design(data, family_slopes=True)
    augmented = np.column_stack([base, fitted**2, fitted**3])
    ssr_b, ssr_a = ssr(base, y), ssr(augmented, y)
    df_a = len(y) - np.linalg.matrix_rank(augmented)
    f_value = ((ssr_b - ssr_a) / 2) / (ssr_a / df_a)
    assert pooled["reset_F"] == pytest.approx(f_value, rel=1e-6)
    assert pooled["reset_p"] == pytest.approx(stats.f.sf(f_value, 2, df_a), rel=1e-6)


def test_efficiency_family_slopes_closed_form(res, toy):
    data = used(toy)
    ref = float(np.median(data["log10_flops"]))
    assert res.reference_compute == pytest.approx(ref)
    assert res.reference_family == "A"  # the largest family by default
    eff = res.efficiency("PC1")
    y = data["PC1"].to_numpy()
    n, k = len(data), 4
    s2 = ssr(block_design(data, family_slopes=True), y) / (n - 2 * k)
    q = stats.t.ppf(0.975, n - 2 * k)
    level, se = {}, {}
    for family, rows in data.groupby("family"):
        x, yy = rows["log10_flops"].to_numpy(), rows["PC1"].to_numpy()
        cf = closed_form(x, yy)
        level[family] = cf["intercept"] + cf["slope"] * ref
        se[family] = np.sqrt(s2 * (1 / len(x) + (ref - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum()))
        assert eff.at[family, "level"] == pytest.approx(level[family], rel=1e-9)
        assert eff.at[family, "level_se"] == pytest.approx(se[family], rel=1e-9)
        assert eff.at[family, "level_upper"] == pytest.approx(level[family] + q * se[family], rel=1e-9)
        assert eff.at[family, "extrapolated"] == (not x.min() <= ref <= x.max())
    for family in ["B", "C", "D"]:
        offset_se = np.sqrt(se[family] ** 2 + se["A"] ** 2)  # separate parameter blocks: independent
        assert eff.at[family, "offset"] == pytest.approx(level[family] - level["A"], rel=1e-9)
        assert eff.at[family, "offset_se"] == pytest.approx(offset_se, rel=1e-9)
        assert eff.at[family, "offset_p"] == pytest.approx(
            2 * stats.t.sf(abs(level[family] - level["A"]) / offset_se, n - 2 * k), rel=1e-7)
    assert eff.at["A", "offset"] == 0 and np.isnan(eff.at["A", "offset_p"])
    assert list(eff.index) == sorted(level, key=level.get, reverse=True)
    assert list(eff["rank"]) == [1, 2, 3, 4]
    others = eff.index != "A"
    np.testing.assert_allclose(eff.loc[others, "offset_p_adj"], holm(eff.loc[others, "offset_p"].to_numpy()))


def test_efficiency_common_slope(res, toy):
    data = used(toy)
    design = block_design(data, family_slopes=False)
    coef = np.linalg.lstsq(design, data["PC1"].to_numpy(), rcond=None)[0]
    eff = res.efficiency("PC1", basis="common_slope").loc[["A", "B", "C", "D"]]
    np.testing.assert_allclose(eff["level"], coef[:4] + coef[4] * res.reference_compute, rtol=1e-9)
    np.testing.assert_allclose(eff["offset"], coef[:4] - coef[0], atol=1e-12)
    with pytest.raises(ConfigError, match="basis='nope'"):
        res.efficiency("PC1", basis="nope")


def test_get_prediction_closed_form(res, toy):
    rows = used(toy).query("family == 'B'")
    x, y = rows["log10_flops"].to_numpy(), rows["PC1"].to_numpy()
    cf = closed_form(x, y, alpha=0.1)
    at = np.array([21.0, 23.5])
    frame = res.get_prediction(family="B", log10_flops=at, component="PC1").summary_frame(alpha=0.1)
    s2 = cf["resid_sd"] ** 2
    se_mean = np.sqrt(s2 * (1 / len(x) + (at - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum()))
    q = stats.t.ppf(0.95, len(x) - 2)
    mean = cf["intercept"] + cf["slope"] * at
    np.testing.assert_allclose(frame["mean"], mean, rtol=1e-10)
    np.testing.assert_allclose(frame["mean_ci_upper"], mean + q * se_mean, rtol=1e-10)
    np.testing.assert_allclose(frame["obs_ci_lower"], mean - q * np.sqrt(s2 + se_mean**2), rtol=1e-10)
    assert list(frame.index) == [21.0, 23.5]
    np.testing.assert_allclose(res.predict(family="B", log10_flops=at), mean, rtol=1e-10)


# --------------------------------------------------------------------------- influence
def test_influence_closed_form(res, toy):
    data = used(toy)
    table = res.influence("PC1").loc[data.index]
    design = block_design(data, family_slopes=True)
    y = data["PC1"].to_numpy()
    n, p = design.shape
    hat = np.diag(design @ np.linalg.pinv(design.T @ design) @ design.T)
    resid = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    s2 = (resid**2).sum() / (n - p)
    s2_deleted = ((resid**2).sum() - resid**2 / (1 - hat)) / (n - p - 1)
    np.testing.assert_allclose(table["leverage"], hat, rtol=1e-8)
    np.testing.assert_allclose(table["student_resid"], resid / np.sqrt(s2_deleted * (1 - hat)), rtol=1e-7)
    np.testing.assert_allclose(table["cooks_d"], resid**2 * hat / (p * s2 * (1 - hat) ** 2), rtol=1e-7)
    bonf = np.minimum(1, n * 2 * stats.t.sf(np.abs(table["student_resid"]), n - p - 1))
    np.testing.assert_allclose(table["bonf_p"], bonf, rtol=1e-8)
    threshold = stats.f.ppf(0.5, p, n - p)
    assert cooks_threshold(p, n - p) == pytest.approx(threshold)
    assert (table["influential"] == (table["cooks_d"] > threshold)).all()
    assert (table["flagged"] == (table["outlier"] | table["influential"])).all()
    assert {"params_b", "tokens_t", "flops"} <= set(table.columns)


def test_mis_recorded_compute_is_flagged(sim):
    panel, truth = sim
    frame = panel.frame().join(truth.capabilities.rename(columns={"C1": "PC1"}))
    sizes = frame.dropna(subset=["log10_flops"])["family"].value_counts()
    family = sizes.index[0]
    model = frame.index[(frame["family"] == family) & frame["log10_flops"].notna()][2]
    clean = fit(frame)
    assert not clean.influence("PC1").at[model, "flagged"]
    shifted = frame.copy()
    shifted.loc[model, "log10_flops"] += 1.0  # tokens recorded 10x too high
    flagged = fit(shifted).flagged
    assert model in flagged.index
    assert flagged.at[model, "outlier"] and flagged.at[model, "family"] == family
    assert flagged.at[model, "tokens_t"] == pytest.approx(frame.at[model, "tokens_t"])


# --------------------------------------------------------------------------- options
def test_hc3_where_df_allow(toy):
    res = fit(toy, cov_type="HC3")
    table = res.family_table("PC1")
    # A has 5 residual df and B 3 (allowed); C has 1 and D 2: these keep the classical covariance
    assert loglinear.ROBUST_MIN_DF == 3
    assert table["cov_type"].to_dict() == {"A": "HC3", "B": "HC3", "C": "nonrobust", "D": "nonrobust"}
    rows = used(toy).query("family == 'A'")
    x, y = rows["log10_flops"].to_numpy(), rows["PC1"].to_numpy()
    design = np.column_stack([np.ones_like(x), x])
    bread = np.linalg.inv(design.T @ design)
    hat = np.einsum("ij,jk,ik->i", design, bread, design)
    resid = y - design @ bread @ design.T @ y
    sandwich = bread @ design.T @ np.diag(resid**2 / (1 - hat) ** 2) @ design @ bread
    assert table.at["A", "slope_se"] == pytest.approx(np.sqrt(sandwich[1, 1]), rel=1e-9)
    q = stats.t.ppf(0.975, len(x) - 2)
    assert table.at["A", "slope_upper"] == pytest.approx(table.at["A", "slope"] + q * np.sqrt(sandwich[1, 1]),
                                                         rel=1e-9)
    assert table.at["D", "slope_se"] == pytest.approx(fit(toy).family_table("PC1").at["D", "slope_se"])
    pooled = res.pooled.loc["PC1"]
    assert pooled["homogeneity_method"] == "Wald F (HC3)" and pooled["cov_type"] == "HC3"
    assert "HC3 covariance where a fit has >= 3 residual df" in "\n".join(res.summary().notes)


def test_reference_and_reference_compute(toy):
    res = fit(toy, reference="B", reference_compute=22.0)
    eff = res.efficiency("PC1")
    assert res.reference_family == "B" and res.reference_compute == 22.0
    assert eff.at["B", "offset"] == 0
    assert eff.at["C", "offset"] == pytest.approx(eff.at["C", "level"] - eff.at["B", "level"])
    line = res.family_fit("C").params
    assert eff.at["C", "level"] == pytest.approx(line["Intercept"] + 22.0 * line["log10_flops"])


def test_min_models_excludes_and_warns(toy):
    with pytest.warns(SmallFamilyWarning, match=r"E: 2 model\(s\) with compute, fewer than min_models=3"):
        res = FamilyScaling(toy).fit()
    assert list(res.excluded.index) == ["E"]
    with pytest.warns(SmallFamilyWarning, match="C: 3 model"):
        res5 = FamilyScaling(toy, min_models=5).fit()
    assert list(res5.fitted_families) == ["A", "B"] and set(res5.excluded.index) == {"C", "D", "E"}


# --------------------------------------------------------------------------- invariants
def _numbers(res) -> list[pd.DataFrame]:
    frames = [res.families, res.pooled, res.efficiency("PC1"), res.efficiency("PC2", basis="common_slope"),
              res.influence("PC1").sort_index()]
    return [f.select_dtypes(include=["number", "bool"]) for f in frames]


def test_row_order_invariance(res, toy):
    shuffled = toy.sample(frac=1.0, random_state=4)
    assert list(shuffled.index) != list(toy.index)
    again = fit(shuffled, components=["PC1", "PC2"])
    for a, b in zip(_numbers(res), _numbers(again)):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-8, atol=1e-10)


def test_sign_and_unit_invariance(res, toy):
    flipped = toy.assign(PC1=-toy["PC1"], log10_flops=toy["log10_flops"] + 3.0)  # compute in units 1000x smaller
    other = fit(flipped, components=["PC1", "PC2"]).family_table("PC1")
    table = res.family_table("PC1")
    np.testing.assert_allclose(other["slope"], -table["slope"], rtol=1e-8)
    np.testing.assert_allclose(other["slope_se"], table["slope_se"], rtol=1e-8)
    np.testing.assert_allclose(other["slope_p"], table["slope_p"], rtol=1e-8)
    np.testing.assert_allclose(other["r2"], table["r2"], rtol=1e-8)
    np.testing.assert_allclose(other["quad_p"], table["quad_p"], rtol=1e-6)
    eff, eff_flipped = res.efficiency("PC1"), fit(flipped, components=["PC1"]).efficiency("PC1")
    np.testing.assert_allclose(eff_flipped.loc[eff.index, "level"], -eff["level"], rtol=1e-8)
    assert list(eff_flipped.index) == list(eff.index[::-1])
    pooled, pooled_flipped = res.pooled.loc["PC1"], fit(flipped, components=["PC1"]).pooled.loc["PC1"]
    for column in ("homogeneity_F", "homogeneity_p", "quad_p", "reset_p"):
        assert pooled_flipped[column] == pytest.approx(pooled[column], rel=1e-6)


# --------------------------------------------------------------------------- mixed model
def test_mixed_model(res):
    pooled = res.pooled.loc["PC1"]
    table = res.family_table("PC1")
    assert pooled["mixed_converged"]
    assert table["slope"].min() <= pooled["mixed_slope"] <= table["slope"].max()
    shrunk = res.mixed_slopes("PC1")
    assert list(shrunk.columns) == ["n", "ols_slope", "slope_se", "mixed_slope"]
    # shrinkage pulls the family slopes, as a whole, toward the fixed slope
    gap_ols = ((shrunk["ols_slope"] - pooled["mixed_slope"]) ** 2).sum()
    gap_mixed = ((shrunk["mixed_slope"] - pooled["mixed_slope"]) ** 2).sum()
    assert gap_mixed < gap_ols
    # the same model fitted directly: REML, random intercept and slope by family, compute centred at the reference
    data = used(toy_frame()).assign(xc=lambda d: d["log10_flops"] - res.reference_compute)
    direct = smf.mixedlm("PC1 ~ xc", data, groups=data["family"], re_formula="~xc").fit(reml=True)
    assert pooled["mixed_slope"] == pytest.approx(direct.fe_params["xc"], rel=1e-6)
    assert pooled["mixed_slope_se"] == pytest.approx(direct.bse_fe["xc"], rel=1e-5)
    assert pooled["mixed_slope_sd"] == pytest.approx(np.sqrt(direct.cov_re.iloc[1, 1]), rel=1e-5)


def test_mixed_model_failure_is_a_warning_and_a_note(toy, monkeypatch):
    def broken(self, *args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(MixedLM, "fit", broken)
    with pytest.warns(ConvergenceWarning, match="mixed model failed"):
        res = FamilyScaling(toy[toy["family"] != "E"], components=["PC1"]).fit()
    assert np.isnan(res.pooled.at["PC1", "mixed_slope"]) and not res.pooled.at["PC1", "mixed_converged"]
    assert res.mixed_fit("PC1") is None
    assert any("mixed model failed (LinAlgError" in note for note in res.summary().notes)
    with pytest.raises(ConfigError, match="no mixed model for 'PC1'"):
        res.mixed_slopes("PC1")
    assert np.isfinite(res.pooled.at["PC1", "homogeneity_p"])  # everything else is still there


def test_mixed_model_not_converged_warns(toy, monkeypatch):
    original = MixedLM.fit

    def unconverged(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        result.converged = False
        return result

    monkeypatch.setattr(MixedLM, "fit", unconverged)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = FamilyScaling(toy[toy["family"] != "E"], components=["PC1"]).fit()
    assert not res.pooled.at["PC1", "mixed_converged"]
    assert any("should not be relied on" in note for note in res.summary().notes)


# --------------------------------------------------------------------------- outputs
def test_summary_tidy_tests_repr(res):
    summary = res.summary()
    text = summary.as_text()
    assert "Per-family OLS: PC1 ~ log10_flops" in text and "Notes:" in text and "[1] " in text
    notes = "\n".join(summary.notes)
    assert "1 families left out (SmallFamilyWarning): E (2)" in notes
    assert "Fragile (one residual df" in notes and ": C." in notes
    assert "1 models left out for no family: orphan" in notes
    assert "1 models left out for no log10_flops: a-nocompute" in notes
    assert summary.table("Families left out").index.tolist() == ["E"]
    assert repr(res) == "<FamilyScalingResults: PC1, PC2 ~ log10_flops in 4 families (1 left out), 19 models>"
    assert "\n" not in repr(res)
    tidy = res.tidy()
    assert list(tidy.columns) == ["component", "section", "family", "term", "estimate", "std_error", "lower",
                                  "upper", "p_value"]
    slope = tidy.query("component == 'PC2' and section == 'family' and family == 'D' and term == 'slope'")
    assert slope["estimate"].iloc[0] == pytest.approx(res.family_table("PC2").at["D", "slope"])
    assert set(tidy["section"]) == {"family", "common_slope", "mixed", "efficiency"}
    tests = res.tests()
    homogeneity = tests.query("component == 'PC1' and test == 'slope homogeneity'")
    assert homogeneity["p_value"].iloc[0] == pytest.approx(res.pooled.at["PC1", "homogeneity_p"])
    assert len(tests.query("test == 'quadratic = 0' and family != 'pooled'")) == 2 * 3
    assert "<table" in res._repr_html_() and "Per-family" in summary.as_markdown()


def test_results_are_immutable(res):
    with pytest.raises(AttributeError):
        res.families = None
    table = res.family_table("PC1")
    table.loc["A", "slope"] = 99.0
    assert res.family_table("PC1").at["A", "slope"] != 99.0


def test_from_capabilities_uses_frame(toy):
    class FakeCapabilities:
        """Stands in for CapabilityResults until capabilities.py lands: only frame() is used."""

        def frame(self):
            return toy

    model = FamilyScaling.from_capabilities(FakeCapabilities(), components=["PC1"], min_models=4)
    res = fit(model._data, components=["PC1"], min_models=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallFamilyWarning)
        direct = model.fit()
    pd.testing.assert_frame_equal(direct.families, res.families)
    assert model.min_models == 4
    with pytest.raises(ConfigError, match="caps must be a CapabilityResults"):
        FamilyScaling.from_capabilities(toy)


# --------------------------------------------------------------------------- errors
def test_error_component_missing(toy):
    with pytest.raises(ConfigError, match=r"component 'PC9' does not exist.*PC1, PC2, PC3"):
        FamilyScaling(toy, components=["PC1", "PC9"])


def test_error_all_flops_missing(toy):
    with pytest.raises(DataError, match=r"all 'log10_flops' values are missing \(23 models\)"):
        FamilyScaling(toy.assign(log10_flops=np.nan)).fit()


def test_error_no_family_with_compute(toy):
    tiny = toy.groupby("family").head(2)
    with pytest.raises(DataError, match=r"no family has at least min_models=3 models with log10_flops"):
        FamilyScaling(tiny).fit()


def test_error_unknown_family(res, toy):
    with pytest.raises(ConfigError, match=r"reference='Nope' is not a family of the data"):
        FamilyScaling(toy, reference="Nope")
    with pytest.raises(ConfigError, match=r"reference='E' was left out \(2 model"):
        fit(toy, reference="E")
    with pytest.raises(ConfigError, match=r"unknown family 'Nope' \(fitted families: 'A', 'B', 'C', 'D'\)"):
        res.get_prediction(family="Nope", log10_flops=22.0)
    with pytest.raises(ConfigError, match=r"family='E' was left out"):
        res.get_prediction(family="E", log10_flops=22.0)
    with pytest.raises(ConfigError, match=r"component='PC3' was not fitted"):
        res.efficiency("PC3")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cov_type": "HC9"}, r"cov_type='HC9' is not accepted"),
        ({"alpha": 1.5}, r"alpha=1.5 is not accepted"),
        ({"min_models": 2}, r"min_models=2 is not accepted \(expected an integer >= 3"),
        ({"multitest": "holmes"}, r"multitest='holmes' is not accepted"),
        ({"components": []}, r"components=\(\) is empty"),
        ({"components": ["PC1", "PC1"]}, r"lists a column twice"),
        ({"family": "maker"}, r"family='maker' is not a column"),
        ({"compute": "log flops"}, r"compute='log flops' cannot be used in a formula"),
        ({"reference_compute": float("nan")}, r"reference_compute=nan is not a finite number"),
    ],
)
def test_bad_options(toy, options, message):
    with pytest.raises(ConfigError, match=message):
        FamilyScaling(toy, **options)


def test_bad_values(toy):
    with pytest.raises(DataError, match=r"component 'PC1' is missing or not a number for models with compute: b-2"):
        FamilyScaling(toy.assign(PC1=toy["PC1"].where(toy.index != "b-2"))).fit()
    bad = toy.astype({"log10_flops": object})
    bad.loc["c-1", "log10_flops"] = "big"
    with pytest.raises(DataError, match=r"'log10_flops' is not a finite number for models c-1"):
        FamilyScaling(bad).fit()
    doubled = pd.concat([toy, toy.iloc[:1]])
    with pytest.raises(DataError, match=r"models appear more than once in the data: a-0"):
        FamilyScaling(doubled).fit()
    with pytest.raises(ConfigError, match="data must be a pandas DataFrame"):
        FamilyScaling(toy.to_numpy())
    with pytest.raises(ConfigError, match=r"log10_flops=\[nan\] must be finite"):
        fit(toy).get_prediction(family="A", log10_flops=[np.nan])


def test_single_family(toy):
    res = fit(toy[toy["family"] == "A"])
    pooled = res.pooled.loc["PC1"]
    assert np.isnan(pooled["homogeneity_p"]) and pooled["homogeneity_method"] == "not tested (one family)"
    assert np.isnan(pooled["mixed_slope"])
    assert any("mixed model not fitted (1 families" in note for note in res.summary().notes)
    assert res.efficiency("PC1").at["A", "level"] == pytest.approx(
        res.predict(family="A", log10_flops=res.reference_compute).iloc[0])


# --------------------------------------------------------------------------- calibration (small, seeded)
def test_calibration_small():
    study = load_analysis("loglinear_calibration")
    records = [r for seed in range(3) for r in study.run_seed(seed, curvatures=(-0.3,), slope_spreads=(0.0,),
                                                              influence=False)]
    table = study.aggregate(records).set_index(["scenario", "quantity", "component"]).sort_index()
    coverage = table.xs("slope CI coverage", level="quantity").loc["log-linear"]
    assert coverage["trials"].sum() >= 120
    assert 0.88 <= coverage["hits"].sum() / coverage["trials"].sum() <= 0.995
    level = table.loc[("log-linear", "efficiency level CI coverage")]
    assert 0.85 <= level["hits"].sum() / level["trials"].sum() <= 1.0
    assert table.loc[("curvature q = -0.3", "pooled quadratic test rejects", "PC1"), "rate"] == 1.0
    assert table.loc[("log-linear", "pooled quadratic test rejects"), "hits"].sum() <= 2  # of 9 tests at 5%
    assert table.loc[("slope spread x0", "slope homogeneity F rejects", "PC1"), "hits"] <= 1
    assert table.loc[("log-linear", "slope homogeneity F rejects", "PC1"), "rate"] == 1.0
