"""Per-family log-linearity of principal capabilities in training compute.

METHOD.md eq. (4) assumes that inside each family f the capabilities grow
linearly in log compute, ``S_m = theta_f log10 C_m + v_f``, families differing
in how efficiently they turn compute into capability. :class:`FamilyScaling`
makes that assumption measurable, through statsmodels formulas:

- per family and component, OLS ``PCk ~ log10_flops`` (slope, intercept,
  standard errors, CIs, t, p, R², n, residual df), with a quadratic term as a
  test of log-linearity and a multiple-testing adjustment across families;
- pooled over the families: a common slope with family intercepts against
  family-specific slopes (F-test of slope homogeneity), a common quadratic term
  and Ramsey's RESET, and a mixed model with random intercepts and slopes by
  family (a shrunken pooled slope);
- compute efficiency: each family's expected PC at one reference compute, ranked,
  and its offset from a reference family;
- influence diagnostics (externally studentized residuals, Cook's distance)
  that point at models whose size or token count may be mis-recorded.

Choices (each is stated again in the summary notes):

- Families with fewer than ``min_models`` models with compute are left out of
  every estimate (per-family and pooled), with a :class:`SmallFamilyWarning`; so
  the pooled models and the per-family table describe the same models.
- The pooled "family slopes" model ``PCk ~ C(family) * log10_flops`` is eq. (4)
  itself; it gives the efficiency levels (the same point estimates as each
  family's own line, with the residual variance pooled over families, hence
  usable intervals even for three-model families) and the influence diagnostics.
- The pooled quadratic test adds one common ``(log10_flops - ref)^2`` term to
  the family-slopes model. With family intercepts only, unequal family slopes
  would leak into the quadratic term and inflate its size (measured in
  ``reports/loglinear_calibration.md``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.regression.linear_model import RegressionResults
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.diagnostic import linear_reset
from statsmodels.stats.multitest import multipletests
from statsmodels.tools import sm_exceptions

from .exceptions import ConfigError, ConvergenceWarning, DataError, SmallFamilyWarning
from .summary import Summary, SummaryMixin

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
MULTITEST_METHODS = (
    "holm", "bonferroni", "sidak", "holm-sidak", "simes-hochberg", "hommel", "fdr_bh", "fdr_by", "none",
)
#: A heteroskedasticity-consistent (HC) covariance is used for a fit only when the
#: fit has at least this many residual degrees of freedom ("where the df allow");
#: otherwise the fit keeps the classical covariance, shown in its ``cov_type`` column.
#: In reports/loglinear_calibration.md, HC3 slope intervals with 1-2 residual df are
#: 2-4 times as wide as the classical ones and cover 97-99%; from 3 df they are within
#: about 2 points of 95% with homo- and heteroskedastic errors.
ROBUST_MIN_DF = 3
#: HC2/HC3 divide by (1 - leverage): a fit with a leverage this close to 1 also falls back.
LEVERAGE_LIMIT = 0.999
#: The per-family quadratic test needs one residual df after three parameters.
MIN_QUADRATIC_MODELS = 4
#: A random slope variance needs a few families; fewer and the mixed model is skipped.
MIN_MIXED_FAMILIES = 3
#: Metadata columns shown next to flagged models.
FLAG_META = ("params_b", "tokens_t", "flops", "flops_source")
FAMILY = "family"  # the family column's name inside the working frame


# --------------------------------------------------------------------------- helpers
class _Fit(NamedTuple):
    """An OLS fit with the covariance actually used, and its classical twin (for influence, anova)."""

    res: RegressionResults
    plain: RegressionResults
    cov_type: str
    formula: str


def _robust_allowed(res: RegressionResults) -> bool:
    """HC covariances need residual df >= ROBUST_MIN_DF and every leverage below LEVERAGE_LIMIT."""
    if res.df_resid < ROBUST_MIN_DF:
        return False
    return bool(np.max(res.get_influence().hat_matrix_diag) < LEVERAGE_LIMIT)


def _ols(formula: str, data: pd.DataFrame, cov_type: str) -> _Fit:
    model = smf.ols(formula, data)
    plain = model.fit()
    if cov_type != "nonrobust" and _robust_allowed(plain):
        return _Fit(model.fit(cov_type=cov_type, use_t=True), plain, cov_type, formula)
    return _Fit(plain, plain, "nonrobust", formula)


def cooks_threshold(n_params: int, df_resid: float) -> float:
    """Cook's distance above which a model is called influential: the median of F(p, n - p).

    Cook's (1977) reference: deleting the model moves the estimates beyond their
    50% confidence ellipsoid. In the family-slopes model (two parameters per
    family, so three-model families have leverages near 1) the common ``4 / n``
    rule flags a large share of correctly recorded simulated models; compare
    both in ``reports/loglinear_calibration.md`` (influence section).
    """
    return float(stats.f.ppf(0.5, n_params, df_resid))


def _adjust(pvalues: pd.Series, method: str, alpha: float) -> pd.Series:
    """Multiple-testing adjusted p-values over the non-missing entries."""
    pvalues = pvalues.astype(float)
    if method == "none":
        return pvalues.copy()
    out = pd.Series(np.nan, index=pvalues.index, dtype=float)
    present = pvalues.notna()
    if not present.any():
        return out
    out[present] = multipletests(pvalues[present].to_numpy(dtype=float), alpha=alpha, method=method)[1]
    return out


def _design_rows(fit: _Fit, data: pd.DataFrame, new: pd.DataFrame) -> np.ndarray:
    """The design-matrix rows ``fit``'s formula gives to ``new`` (same columns as the fit)."""
    padded = pd.concat([data, new], ignore_index=True)
    model = smf.ols(fit.formula, padded)
    if list(model.exog_names) != list(fit.res.model.exog_names):  # pragma: no cover - guards the padding trick
        raise RuntimeError("design of the new rows differs from the fitted design")
    return model.exog[len(data):]


def _quote(names: Iterable[str]) -> str:
    return ", ".join(repr(str(n)) for n in names)


def _short_list(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class _Prepared:
    data: pd.DataFrame  # models of the included families, sorted, with family/compute/components/meta
    excluded: pd.DataFrame  # family -> n_models, reason
    dropped: dict[str, list[str]]  # reason -> models left out before grouping
    reference_compute: float
    reference_family: str
    reference_family_given: bool


def _prepare(model: FamilyScaling) -> _Prepared:
    raw = model._data
    compute, components = model.compute, list(model.components)
    if raw.index.has_duplicates:
        dup = sorted(map(str, raw.index[raw.index.duplicated()].unique()))
        raise DataError(f"models appear more than once in the data: {_short_list(dup)} (model ids must be unique)")
    frame = pd.DataFrame(index=pd.Index(raw.index.map(str), name="model"))
    frame[FAMILY] = raw[model.family].to_numpy(dtype=object)
    frame[compute] = pd.to_numeric(raw[compute], errors="coerce").to_numpy(dtype=float)
    for column in components:
        frame[column] = pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype=float)
    for column in FLAG_META:
        if column in raw.columns and column not in frame.columns:
            frame[column] = raw[column].to_numpy()
    _check_values(frame, raw, model)
    dropped = {
        "no family": list(frame.index[frame[FAMILY].isna()]),
        f"no {compute}": list(frame.index[frame[FAMILY].notna() & frame[compute].isna()]),
    }
    frame = frame[frame[FAMILY].notna() & frame[compute].notna()].copy()
    frame[FAMILY] = frame[FAMILY].astype(str)
    included, excluded = _split_families(frame, model)
    data = frame[frame[FAMILY].isin(included)]
    data = data.assign(_model=data.index).sort_values([FAMILY, compute, "_model"]).drop(columns="_model")
    ref_compute = float(np.median(data[compute])) if model.reference_compute is None else model.reference_compute
    return _Prepared(data, excluded, dropped, ref_compute, _reference_family(model, data, excluded),
                     model.reference is not None)


def _check_values(frame: pd.DataFrame, raw: pd.DataFrame, model: FamilyScaling) -> None:
    compute = model.compute
    if frame[compute].isna().all():
        raise DataError(
            f"all {compute!r} values are missing ({len(frame)} models): no model has training compute "
            "(give flops, or params_b and tokens_t, in the metadata)"
        )
    bad = frame.index[raw[compute].notna().to_numpy() & ~np.isfinite(frame[compute])]
    if len(bad):
        raise DataError(f"column {compute!r} is not a finite number for models {_short_list(list(bad))}")
    if frame[FAMILY].isna().all():
        raise DataError(f"column {model.family!r} has no family label for any model")
    has_compute = frame[compute].notna() & frame[FAMILY].notna()
    for column in model.components:
        missing = frame.index[has_compute & ~np.isfinite(frame[column])]
        if len(missing):
            raise DataError(
                f"component {column!r} is missing or not a number for models with compute: "
                f"{_short_list(list(missing))} (every model used needs a finite score)"
            )


def _split_families(frame: pd.DataFrame, model: FamilyScaling) -> tuple[list[str], pd.DataFrame]:
    rows = []
    for family, group in frame.groupby(FAMILY, sort=True):
        n = len(group)
        if n < model.min_models:
            rows.append((family, n, f"{n} model(s) with compute, fewer than min_models={model.min_models}"))
        elif np.ptp(group[model.compute].to_numpy()) == 0:
            rows.append((family, n, f"all {n} models have the same {model.compute}: no slope can be estimated"))
    excluded = pd.DataFrame(rows, columns=[FAMILY, "n_models", "reason"]).set_index(FAMILY)
    included = [f for f in sorted(frame[FAMILY].unique()) if f not in excluded.index]
    if not included:
        sizes = frame[FAMILY].value_counts()
        largest = ", ".join(f"{f} ({n})" for f, n in sizes.head(5).items()) or "none"
        raise DataError(
            f"no family has at least min_models={model.min_models} models with {model.compute} and a spread "
            f"in compute (largest families with compute: {largest}); lower min_models (>= 3) or add metadata"
        )
    if len(excluded):
        lines = "; ".join(f"{f}: {r}" for f, r in excluded["reason"].items())
        warnings.warn(f"{len(excluded)} families left out of the log-linearity fits: {lines}", SmallFamilyWarning,
                      stacklevel=4)
    return included, excluded


def _reference_family(model: FamilyScaling, data: pd.DataFrame, excluded: pd.DataFrame) -> str:
    families = sorted(data[FAMILY].unique())
    if model.reference is None:
        sizes = data[FAMILY].value_counts()
        return sorted(families, key=lambda f: (-sizes[f], f))[0]
    if model.reference in excluded.index:
        raise ConfigError(
            f"reference={model.reference!r} was left out ({excluded.at[model.reference, 'reason']}); "
            f"choose one of the fitted families: {_quote(families)}"
        )
    if model.reference not in families:
        raise ConfigError(f"reference={model.reference!r} is not a family of the data (fitted families: "
                          f"{_quote(families)})")
    return model.reference


# --------------------------------------------------------------------------- fits per component
@dataclass(frozen=True)
class _ComponentFits:
    family_fits: dict[str, _Fit]
    quadratic_fits: dict[str, _Fit]
    common: _Fit
    slopes: _Fit
    pooled_quadratic: _Fit | None
    reset: Any  # ContrastResults or None
    mixed: Any  # MixedLMResults or None
    mixed_messages: tuple[str, ...]
    notes: tuple[str, ...]


def _fit_component(prep: _Prepared, model: FamilyScaling, component: str) -> _ComponentFits:
    data, x, cov = prep.data, model.compute, model.cov_type
    family_fits, quadratic_fits = {}, {}
    for family, rows in data.groupby(FAMILY, sort=True):
        family_fits[family] = _ols(f"{component} ~ {x}", rows, cov)
        if len(rows) >= MIN_QUADRATIC_MODELS:
            centre = float(rows[x].mean())
            quadratic_fits[family] = _ols(f"{component} ~ {x} + I(({x} - {centre!r})**2)", rows, cov)
    common = _ols(f"{component} ~ C({FAMILY}) + {x}", data, cov)
    slopes = _ols(f"{component} ~ C({FAMILY}) * {x}", data, cov)
    notes: list[str] = []
    pooled_quadratic = _ols(f"{component} ~ C({FAMILY}) * {x} + I(({x} - {prep.reference_compute!r})**2)", data, cov)
    if pooled_quadratic.plain.df_resid < 1 or np.linalg.matrix_rank(pooled_quadratic.plain.model.exog) < len(
        pooled_quadratic.plain.params
    ):
        pooled_quadratic = None
        notes.append(f"{component}: the pooled quadratic term is not identified with these families "
                     "(too few models beyond two per family); not tested.")
    reset = _reset(slopes, component, notes)
    mixed, messages = _fit_mixed(data, component, x, prep.reference_compute)
    return _ComponentFits(family_fits, quadratic_fits, common, slopes, pooled_quadratic, reset, mixed,
                          tuple(messages), tuple(notes))


def _reset(slopes: _Fit, component: str, notes: list[str]):
    if slopes.plain.df_resid < 3:
        notes.append(f"{component}: RESET needs 3 residual df in the family-slopes model "
                     f"(has {slopes.plain.df_resid:g}); not run.")
        return None
    return linear_reset(slopes.plain, power=3, test_type="fitted", use_f=True, cov_type=slopes.cov_type)


def _fit_mixed(data: pd.DataFrame, component: str, x: str, reference: float):
    """Random intercept and slope by family, compute centred at the reference; (result or None, messages)."""
    n_families = data[FAMILY].nunique()
    if n_families < MIN_MIXED_FAMILIES:
        return None, [f"{component}: mixed model not fitted ({n_families} families; it needs "
                      f"{MIN_MIXED_FAMILIES} to estimate a slope variance)."]
    frame = data.assign(compute_centred=data[x] - reference)
    model = smf.mixedlm(f"{component} ~ compute_centred", frame, groups=frame[FAMILY], re_formula="~compute_centred")
    failure = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as err:
            failure = f"{component}: the mixed model failed ({type(err).__name__}: {err}); pooled slopes only."
    if failure is not None:
        warnings.warn(failure, ConvergenceWarning, stacklevel=5)
        return None, [failure]
    messages = []
    texts = {str(w.message).split("\n")[0] for w in caught if issubclass(w.category, sm_exceptions.ModelWarning)
             or issubclass(w.category, RuntimeWarning)}
    if not res.converged:
        message = (f"{component}: the mixed model did not converge ({'; '.join(sorted(texts)) or 'no detail'}); "
                   "its estimates are shown but should not be relied on.")
        warnings.warn(message, ConvergenceWarning, stacklevel=5)
        messages.append(message)
    elif any("boundary" in t for t in texts):
        messages.append(f"{component}: the mixed model's variance estimate is on the boundary (a random-effect "
                        "variance near zero, or perfectly correlated effects); its slope SD may be 0.")
    return res, messages


# --------------------------------------------------------------------------- tables
def _family_table(fits: _ComponentFits, data: pd.DataFrame, x: str, alpha: float, multitest: str) -> pd.DataFrame:
    rows = {}
    for family, fit in fits.family_fits.items():
        res = fit.res
        ci = res.conf_int(alpha)
        xs = data.loc[data[FAMILY] == family, x]
        row = {
            "n": int(res.nobs), "df_resid": int(res.df_resid),
            "slope": res.params[x], "slope_se": res.bse[x], "slope_lower": ci.at[x, 0], "slope_upper": ci.at[x, 1],
            "slope_t": res.tvalues[x], "slope_p": res.pvalues[x],
            "intercept": res.params["Intercept"], "intercept_se": res.bse["Intercept"],
            "intercept_lower": ci.at["Intercept", 0], "intercept_upper": ci.at["Intercept", 1],
            "r2": res.rsquared, "resid_sd": float(np.sqrt(res.scale)), "cov_type": fit.cov_type,
            "fragile": int(res.df_resid) == 1, "compute_min": float(xs.min()), "compute_max": float(xs.max()),
        }
        quad = fits.quadratic_fits.get(family)
        row["quad_coef"] = quad.res.params.iloc[-1] if quad else np.nan
        row["quad_se"] = quad.res.bse.iloc[-1] if quad else np.nan
        row["quad_p"] = quad.res.pvalues.iloc[-1] if quad else np.nan
        rows[family] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "family"
    table.insert(table.columns.get_loc("slope_p") + 1, "slope_p_adj", _adjust(table["slope_p"], multitest, alpha))
    table["quad_p_adj"] = _adjust(table["quad_p"], multitest, alpha)
    return table


def _homogeneity(fits: _ComponentFits, n_families: int) -> dict[str, object]:
    if n_families < 2:
        return {"homogeneity_F": np.nan, "homogeneity_df_num": np.nan, "homogeneity_df_den": np.nan,
                "homogeneity_p": np.nan, "homogeneity_method": "not tested (one family)"}
    if fits.slopes.cov_type == "nonrobust":
        table = anova_lm(fits.common.plain, fits.slopes.plain)
        return {"homogeneity_F": table["F"].iloc[1], "homogeneity_df_num": table["df_diff"].iloc[1],
                "homogeneity_df_den": table["df_resid"].iloc[1], "homogeneity_p": table["Pr(>F)"].iloc[1],
                "homogeneity_method": "F (anova_lm)"}
    names = list(fits.slopes.res.model.exog_names)
    extra = [i for i, name in enumerate(names) if name not in set(fits.common.res.model.exog_names)]
    test = fits.slopes.res.f_test(np.eye(len(names))[extra])
    return {"homogeneity_F": float(np.squeeze(test.fvalue)), "homogeneity_df_num": float(test.df_num),
            "homogeneity_df_den": float(test.df_denom), "homogeneity_p": float(test.pvalue),
            "homogeneity_method": f"Wald F ({fits.slopes.cov_type})"}


def _pooled_row(fits: _ComponentFits, x: str, alpha: float, n_families: int) -> dict[str, object]:
    common = fits.common.res
    ci = common.conf_int(alpha)
    row: dict[str, object] = {
        "n": int(common.nobs), "n_families": n_families,
        "common_slope": common.params[x], "common_slope_se": common.bse[x],
        "common_slope_lower": ci.at[x, 0], "common_slope_upper": ci.at[x, 1], "common_slope_p": common.pvalues[x],
        "cov_type": fits.slopes.cov_type,
    }
    row.update(_homogeneity(fits, n_families))
    quad = fits.pooled_quadratic
    row.update({"quad_coef": quad.res.params.iloc[-1] if quad else np.nan,
                "quad_se": quad.res.bse.iloc[-1] if quad else np.nan,
                "quad_p": quad.res.pvalues.iloc[-1] if quad else np.nan})
    reset = fits.reset
    row.update({"reset_F": float(np.squeeze(reset.fvalue)) if reset is not None else np.nan,
                "reset_df_num": float(reset.df_num) if reset is not None else np.nan,
                "reset_df_den": float(reset.df_denom) if reset is not None else np.nan,
                "reset_p": float(reset.pvalue) if reset is not None else np.nan})
    row.update(_mixed_row(fits.mixed, alpha))
    return row


def _mixed_row(res, alpha: float) -> dict[str, object]:
    if res is None:
        return {"mixed_slope": np.nan, "mixed_slope_se": np.nan, "mixed_slope_lower": np.nan,
                "mixed_slope_upper": np.nan, "mixed_slope_sd": np.nan, "mixed_converged": False}
    ci = res.conf_int(alpha)
    return {
        "mixed_slope": res.fe_params["compute_centred"], "mixed_slope_se": res.bse_fe["compute_centred"],
        "mixed_slope_lower": ci.at["compute_centred", 0], "mixed_slope_upper": ci.at["compute_centred", 1],
        "mixed_slope_sd": float(np.sqrt(max(res.cov_re.iloc[1, 1], 0.0))), "mixed_converged": bool(res.converged),
    }


def _influence_table(fits: _ComponentFits, data: pd.DataFrame, x: str, alpha: float) -> pd.DataFrame:
    plain = fits.slopes.plain
    infl = plain.get_influence()
    leverage = infl.hat_matrix_diag
    assessable = leverage < LEVERAGE_LIMIT
    with np.errstate(divide="ignore", invalid="ignore"):
        student = np.where(assessable, infl.resid_studentized_external, np.nan)
        cooks = np.where(assessable, infl.cooks_distance[0], np.nan)
    df_t = plain.df_resid - 1
    bonf = np.clip(2 * stats.t.sf(np.abs(student), df_t) * plain.nobs, 0, 1) if df_t > 0 else np.full(len(data), np.nan)
    table = pd.DataFrame(
        {"family": data[FAMILY].to_numpy(), x: data[x].to_numpy(), "fitted": plain.fittedvalues.to_numpy(),
         "resid": plain.resid.to_numpy(), "leverage": leverage, "student_resid": student, "bonf_p": bonf,
         "cooks_d": cooks},
        index=data.index,
    )
    table["outlier"] = table["bonf_p"] < alpha
    table["influential"] = table["cooks_d"] > cooks_threshold(len(plain.params), plain.df_resid)
    table["assessable"] = assessable
    table["flagged"] = table["outlier"] | table["influential"]
    for column in FLAG_META:
        if column in data.columns:
            table[column] = data[column].to_numpy()
    return table


def _efficiency_table(fit: _Fit, prep: _Prepared, x: str, alpha: float, multitest: str,
                      basis: str) -> pd.DataFrame:
    data, families = prep.data, sorted(prep.data[FAMILY].unique())
    new = pd.DataFrame({FAMILY: families, x: prep.reference_compute})
    new[fit.res.model.endog_names] = 0.0
    rows = _design_rows(fit, data, new)
    level = fit.res.t_test(rows)
    level_ci = level.conf_int(alpha)
    spans = data.groupby(FAMILY)[x].agg(["min", "max", "size"]).loc[families]
    table = pd.DataFrame(
        {
            "n": spans["size"].to_numpy(), "compute_min": spans["min"].to_numpy(), "compute_max": spans["max"].to_numpy(),
            "extrapolated": ((prep.reference_compute < spans["min"]) | (prep.reference_compute > spans["max"])).to_numpy(),
            "level": np.ravel(level.effect), "level_se": np.ravel(level.sd),
            "level_lower": level_ci[:, 0], "level_upper": level_ci[:, 1],
        },
        index=pd.Index(families, name="family"),
    )
    # offsets: contrasts against the reference family (its own offset is 0 by construction, not a test)
    table["offset"], table["offset_se"], table["offset_p"] = 0.0, np.nan, np.nan
    table["offset_lower"] = table["offset_upper"] = 0.0
    others = [i for i, f in enumerate(families) if f != prep.reference_family]
    if others:
        ref = families.index(prep.reference_family)
        offset = fit.res.t_test(rows[others] - rows[ref])
        offset_ci = offset.conf_int(alpha)
        names = [families[i] for i in others]
        table.loc[names, "offset"], table.loc[names, "offset_se"] = np.ravel(offset.effect), np.ravel(offset.sd)
        table.loc[names, "offset_lower"], table.loc[names, "offset_upper"] = offset_ci[:, 0], offset_ci[:, 1]
        table.loc[names, "offset_p"] = np.ravel(offset.pvalue)
    table["offset_p_adj"] = _adjust(table["offset_p"], multitest, alpha)
    table.insert(table.columns.get_loc("level_upper") + 1, "rank",
                 table["level"].rank(ascending=False, method="min").astype(int))
    table.attrs.update(basis=basis, reference_compute=prep.reference_compute, reference_family=prep.reference_family)
    return table.sort_values(["rank", "level"], ascending=[True, False])


# --------------------------------------------------------------------------- model
class FamilyScaling:
    """Per-family OLS of principal capabilities on log10 training compute, with pooled tests.

    Parameters
    ----------
    data : DataFrame
        One row per model (index: model id) with a family column, a compute
        column (log10 FLOPs) and the component columns, e.g.
        ``CapabilityResults.frame()`` (see :meth:`from_capabilities`).
        Models without family or compute are left out (and counted in the notes).
    components : names of the capability columns to study (default ``("PC1",)``).
    family, compute : names of the family and log10-compute columns.
    min_models : families with fewer models with compute are left out, with a
        :class:`~osltools.exceptions.SmallFamilyWarning` (at least 3, so that every
        slope has a standard error; families with exactly 3 have one residual df
        and are flagged ``fragile``).
    cov_type : ``"nonrobust"`` (default) or an HC covariance ``"HC0"``..``"HC3"``,
        used for a fit only where it has at least :data:`ROBUST_MIN_DF` residual
        df and no leverage near 1 (otherwise the classical covariance, reported
        per fit in ``cov_type``). t-based intervals in both cases.
    reference : family that offsets are measured from (default: the largest
        fitted family, ties broken alphabetically).
    reference_compute : log10 FLOPs at which the families' efficiency is compared
        (default: the median log10 FLOPs of the models used).
    alpha : level of the intervals (``1 - alpha``) and of the flags.
    multitest : adjustment of p-values across families (statsmodels
        ``multipletests`` method, default ``"holm"``; ``"none"`` to skip).

    Examples
    --------
    >>> from osltools.datasets import simulate_panel
    >>> panel, truth = simulate_panel(seed=1)
    >>> frame = panel.frame().join(truth.capabilities.rename(columns={"C1": "PC1"}))
    >>> res = FamilyScaling(frame).fit()
    >>> res.families.loc["PC1", ["slope", "slope_se", "r2"]].shape[1]
    3
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        components: Sequence[str] | str = ("PC1",),
        family: str = "family",
        compute: str = "log10_flops",
        min_models: int = 3,
        cov_type: str = "nonrobust",
        reference: str | None = None,
        reference_compute: float | None = None,
        alpha: float = 0.05,
        multitest: str = "holm",
    ):
        if not isinstance(data, pd.DataFrame):
            raise ConfigError(f"data must be a pandas DataFrame (one row per model), not {type(data).__name__}")
        self.components = (components,) if isinstance(components, str) else tuple(components)
        self.family, self.compute = family, compute
        self.min_models, self.cov_type, self.reference = min_models, cov_type, reference
        self.reference_compute, self.alpha, self.multitest = reference_compute, alpha, multitest
        self._check_options()
        self._check_columns(data)
        self._data = data.copy()

    @classmethod
    def from_capabilities(cls, caps: Any, *, components: Sequence[str] | str = ("PC1",), **options: Any) -> FamilyScaling:
        """Build from a ``CapabilityResults``: its ``frame()`` (metadata, scores and PC columns by model).

        ``options`` are passed on to :class:`FamilyScaling` as keywords (``min_models``,
        ``cov_type``, ``reference``, ...); a misspelt one is a ``TypeError`` there.

        Examples
        --------
        >>> from osltools.capabilities import CapabilityPCA  # doctest: +SKIP
        >>> caps = CapabilityPCA(n_components=3).fit(panel)  # doctest: +SKIP
        >>> FamilyScaling.from_capabilities(caps, components=["PC1", "PC2"], reference="Llama-2").fit()  # doctest: +SKIP
        """
        if not callable(getattr(caps, "frame", None)):
            raise ConfigError(f"caps must be a CapabilityResults (with a frame() method), not {type(caps).__name__}")
        return cls(caps.frame(), components=components, **options)

    def _check_options(self) -> None:
        if not self.components:
            raise ConfigError("components=() is empty (expected one or more column names, e.g. ('PC1',))")
        if len(set(self.components)) != len(self.components):
            raise ConfigError(f"components={list(self.components)} lists a column twice")
        for name, value in [("family", self.family), ("compute", self.compute)] + [
            ("components", c) for c in self.components
        ]:
            if not isinstance(value, str) or not value.isidentifier():
                raise ConfigError(f"{name}={value!r} cannot be used in a formula (expected a column name that is a "
                                  "Python identifier, e.g. 'PC1' or 'log10_flops'; rename the column)")
        clash = {self.family, self.compute} & set(self.components)
        if clash or self.family == self.compute or "compute_centred" in self.components:
            raise ConfigError(f"components, family and compute must be different columns (clash: {sorted(clash)})")
        if isinstance(self.min_models, bool) or not isinstance(self.min_models, (int, np.integer)) or self.min_models < 3:
            raise ConfigError(f"min_models={self.min_models!r} is not accepted (expected an integer >= 3: a slope "
                              "needs a residual df for its standard error)")
        if self.cov_type not in COV_TYPES:
            raise ConfigError(f"cov_type={self.cov_type!r} is not accepted (expected one of {_quote(COV_TYPES)})")
        if not isinstance(self.alpha, (float, int)) or not 0 < self.alpha < 1:
            raise ConfigError(f"alpha={self.alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")
        if self.multitest not in MULTITEST_METHODS:
            raise ConfigError(f"multitest={self.multitest!r} is not accepted (expected one of "
                              f"{_quote(MULTITEST_METHODS)})")
        if self.reference_compute is not None and not np.isfinite(self.reference_compute):
            raise ConfigError(f"reference_compute={self.reference_compute!r} is not a finite number of log10 FLOPs")

    def _check_columns(self, data: pd.DataFrame) -> None:
        numeric = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
        for name, column in [("family", self.family), ("compute", self.compute)]:
            if column not in data.columns:
                raise ConfigError(f"{name}={column!r} is not a column of the data (columns: "
                                  f"{_short_list([str(c) for c in data.columns], 12)})")
        for column in self.components:
            if column not in data.columns:
                pcs = [str(c) for c in numeric if str(c).upper().startswith("PC")] or [str(c) for c in numeric]
                raise ConfigError(f"component {column!r} does not exist in the data (numeric columns that could be "
                                  f"components: {_short_list(pcs, 12)})")
        families = set(data[self.family].dropna().astype(str))
        if self.reference is not None and self.reference not in families:
            raise ConfigError(f"reference={self.reference!r} is not a family of the data (families: "
                              f"{_short_list(sorted(families), 12)})")

    def __repr__(self) -> str:
        return (f"FamilyScaling(components={list(self.components)}, compute={self.compute!r}, "
                f"min_models={self.min_models}, cov_type={self.cov_type!r}, {len(self._data)} rows)")

    def fit(self) -> FamilyScalingResults:
        """Fit every per-family and pooled model; returns a :class:`FamilyScalingResults`.

        Raises
        ------
        DataError
            No model has compute, no family is large enough, or a used model lacks a component score.
        """
        prep = _prepare(self)
        fits = {c: _fit_component(prep, self, c) for c in self.components}
        return FamilyScalingResults(copy.copy(self), prep, fits)


# --------------------------------------------------------------------------- results
class FamilyPrediction(NamedTuple):
    """Predicted component of one family along compute (``summary_frame(alpha)`` like statsmodels)."""

    prediction: Any  # statsmodels PredictionResults
    family: str
    component: str
    alpha: float

    def summary_frame(self, alpha: float | None = None) -> pd.DataFrame:
        """mean, mean_se, mean_ci_lower/upper (confidence) and obs_ci_lower/upper (prediction interval)."""
        return self.prediction.summary_frame(alpha=self.alpha if alpha is None else alpha)


@dataclass(frozen=True, repr=False, eq=False)
class FamilyScalingResults(SummaryMixin):
    """Fitted per-family and pooled log-linear models (made by :meth:`FamilyScaling.fit`).

    Main tables (unrounded, labelled):

    - :attr:`families`: per (component, family) OLS slope, intercept, SEs, CIs,
      t, p (raw and adjusted), R², n, df, fragile flag, quadratic test;
    - :attr:`pooled`: per component the common slope, the slope-homogeneity F-test,
      the pooled quadratic term and RESET, the mixed-model slope and slope SD;
    - :meth:`efficiency`: levels at the reference compute, ranks and offsets;
    - :meth:`influence` / :attr:`flagged`: influence diagnostics and flagged models.
    """

    model: FamilyScaling
    _prep: _Prepared = field(repr=False)
    _fits: dict[str, _ComponentFits] = field(repr=False)
    families: pd.DataFrame = field(init=False, repr=False)
    pooled: pd.DataFrame = field(init=False, repr=False)
    _cache: dict = field(init=False, repr=False, default_factory=dict)  # derived tables, computed once

    def __post_init__(self) -> None:
        x, alpha, multitest = self.model.compute, self.model.alpha, self.model.multitest
        n_families = self._prep.data[FAMILY].nunique()
        tables = {c: _family_table(f, self._prep.data, x, alpha, multitest) for c, f in self._fits.items()}
        families = pd.concat(tables, names=["component", "family"])
        pooled = pd.DataFrame.from_dict(
            {c: _pooled_row(f, x, alpha, n_families) for c, f in self._fits.items()}, orient="index"
        ).rename_axis("component")
        object.__setattr__(self, "families", families)
        object.__setattr__(self, "pooled", pooled)

    # ------------------------------------------------------------------ basics
    @property
    def components(self) -> tuple[str, ...]:
        return self.model.components

    @property
    def data(self) -> pd.DataFrame:
        """The models used (included families), with family, compute, components and metadata."""
        return self._prep.data.copy()

    @property
    def excluded(self) -> pd.DataFrame:
        """Families left out of every fit, with their number of models and the reason."""
        return self._prep.excluded.copy()

    @property
    def reference_compute(self) -> float:
        return self._prep.reference_compute

    @property
    def reference_family(self) -> str:
        return self._prep.reference_family

    @property
    def fitted_families(self) -> pd.Index:
        return pd.Index(sorted(self._prep.data[FAMILY].unique()), name="family")

    def __repr__(self) -> str:
        return (f"<FamilyScalingResults: {', '.join(self.components)} ~ {self.model.compute} in "
                f"{len(self.fitted_families)} families ({len(self._prep.excluded)} left out), "
                f"{len(self._prep.data)} models>")

    def _component(self, component: str | None) -> str:
        if component is None:
            return self.components[0]
        if component not in self.components:
            raise ConfigError(f"component={component!r} was not fitted (fitted: {_quote(self.components)})")
        return component

    def _family(self, family: str) -> str:
        if family in self._prep.excluded.index:
            raise ConfigError(f"family={family!r} was left out of the fits ({self._prep.excluded.at[family, 'reason']})")
        if family not in self.fitted_families:
            raise ConfigError(f"unknown family {family!r} (fitted families: {_quote(self.fitted_families)})")
        return family

    # ------------------------------------------------------------------ estimates
    def _estimates(self, attribute: str) -> pd.Series:
        parts = {
            (c, f): getattr(fit.res, attribute).rename({self.model.compute: "slope", "Intercept": "intercept"})
            for c, fits in self._fits.items() for f, fit in fits.family_fits.items()
        }
        series = pd.concat(parts, names=["component", "family", "term"])
        series.name = attribute
        return series.astype(float)

    @property
    def params(self) -> pd.Series:
        """Per-family intercepts and slopes, indexed by (component, family, term)."""
        return self._estimates("params")

    @property
    def bse(self) -> pd.Series:
        """Standard errors of :attr:`params` (covariance type as in ``families['cov_type']``)."""
        return self._estimates("bse")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """t-based ``1 - alpha`` intervals of :attr:`params` (columns ``lower``, ``upper``)."""
        parts = {}
        for c, fits in self._fits.items():
            for f, fit in fits.family_fits.items():
                ci = fit.res.conf_int(alpha).rename({self.model.compute: "slope", "Intercept": "intercept"})
                parts[(c, f)] = ci.set_axis(["lower", "upper"], axis=1)
        return pd.concat(parts, names=["component", "family", "term"])

    def family_table(self, component: str | None = None) -> pd.DataFrame:
        """The per-family table of one component, indexed by family."""
        return self.families.loc[self._component(component)].copy()

    # ------------------------------------------------------------------ fitted models
    def family_fit(self, family: str, component: str | None = None) -> RegressionResults:
        """The statsmodels OLS results of one family's line."""
        return self._fits[self._component(component)].family_fits[self._family(family)].res

    def pooled_fit(self, component: str | None = None, *, kind: str = "family_slopes") -> RegressionResults:
        """The pooled OLS results: ``kind="common_slope"`` or ``"family_slopes"``."""
        fits = self._fits[self._component(component)]
        if kind not in ("common_slope", "family_slopes"):
            raise ConfigError(f"kind={kind!r} is not accepted (expected 'common_slope' or 'family_slopes')")
        return (fits.common if kind == "common_slope" else fits.slopes).res

    def mixed_fit(self, component: str | None = None):
        """The statsmodels ``MixedLMResults`` (compute centred at the reference compute), or None if not fitted."""
        return self._fits[self._component(component)].mixed

    def mixed_slopes(self, component: str | None = None) -> pd.DataFrame:
        """Per family: own OLS slope and the mixed model's shrunken slope (fixed slope + random slope)."""
        component = self._component(component)
        res = self._fits[component].mixed
        if res is None:
            raise ConfigError(f"no mixed model for {component!r}: " + " ".join(self._fits[component].mixed_messages))
        fixed = res.fe_params["compute_centred"]
        shrunk = {f: fixed + float(effects.iloc[1]) for f, effects in res.random_effects.items()}
        table = self.family_table(component)[["n", "slope", "slope_se"]].rename(columns={"slope": "ols_slope"})
        table["mixed_slope"] = pd.Series(shrunk)
        return table

    # ------------------------------------------------------------------ efficiency and influence
    def efficiency(self, component: str | None = None, *, basis: str = "family_slopes",
                   alpha: float | None = None) -> pd.DataFrame:
        """Each family's expected component at the reference compute, its rank and offset from the reference family.

        ``basis="family_slopes"`` evaluates each family's own line (eq. 4, pooled
        residual variance); ``"common_slope"`` uses the common-slope model, where
        the offsets are the families' intercept differences. Rank 1 is the
        highest level (the most capability for the compute). ``extrapolated``
        marks families whose compute range does not contain the reference compute.
        """
        component = self._component(component)
        if basis not in ("family_slopes", "common_slope"):
            raise ConfigError(f"basis={basis!r} is not accepted (expected 'family_slopes' or 'common_slope')")
        alpha = self.model.alpha if alpha is None else alpha
        key = ("efficiency", component, basis, alpha)
        if key not in self._cache:
            fits = self._fits[component]
            fit = fits.slopes if basis == "family_slopes" else fits.common
            self._cache[key] = _efficiency_table(fit, self._prep, self.model.compute, alpha, self.model.multitest, basis)
        return self._cache[key].copy()

    def influence(self, component: str | None = None) -> pd.DataFrame:
        """Influence diagnostics of every model in the family-slopes model (see :func:`cooks_threshold`)."""
        component = self._component(component)
        key = ("influence", component)
        if key not in self._cache:
            self._cache[key] = _influence_table(self._fits[component], self._prep.data, self.model.compute,
                                                self.model.alpha)
        return self._cache[key].copy()

    @property
    def flagged(self) -> pd.DataFrame:
        """Models flagged as outlying or influential in any component, with their metadata."""
        parts = []
        for c in self.components:
            table = self.influence(c)
            parts.append(table[table["flagged"]].assign(component=c))
        frame = pd.concat(parts)
        columns = ["component", "family", self.model.compute, *[c for c in FLAG_META if c in frame.columns],
                   "student_resid", "bonf_p", "cooks_d", "leverage", "outlier", "influential"]
        return frame[columns]

    # ------------------------------------------------------------------ prediction
    def get_prediction(self, *, family: str, log10_flops: float | Sequence[float],
                       component: str | None = None, alpha: float | None = None) -> FamilyPrediction:
        """Predicted component of ``family`` at these log10 FLOPs from the family's own line.

        ``.summary_frame()`` gives the mean with its confidence interval
        (``mean_ci_*``) and the prediction interval of a new model (``obs_ci_*``).

        Examples
        --------
        >>> res.get_prediction(family="Llama-2", log10_flops=[22, 23]).summary_frame()  # doctest: +SKIP
        """
        component = self._component(component)
        fit = self.family_fit(family, component)
        xs = np.atleast_1d(np.asarray(log10_flops, dtype=float))
        if xs.ndim != 1 or not np.isfinite(xs).all():
            raise ConfigError(f"log10_flops={log10_flops!r} must be finite numbers (log10 of training FLOPs)")
        new = pd.DataFrame({self.model.compute: xs}, index=pd.Index(xs, name=self.model.compute))
        return FamilyPrediction(fit.get_prediction(new), family, component,
                                self.model.alpha if alpha is None else alpha)

    def predict(self, *, family: str, log10_flops: float | Sequence[float],
                component: str | None = None) -> pd.Series:
        """Point predictions of :meth:`get_prediction`, indexed by log10 FLOPs."""
        return self.get_prediction(family=family, log10_flops=log10_flops, component=component).summary_frame()["mean"]

    # ------------------------------------------------------------------ tests and tidy output
    def tests(self) -> pd.DataFrame:
        """Every hypothesis test, long: component, test, family, kind (t or F), statistic, df_num, df_den,
        p_value and p_adjusted (across families, per-family tests only)."""
        rows = []
        for c in self.components:
            table, pooled = self.family_table(c), self.pooled.loc[c]
            for f, r in table.iterrows():
                rows.append((c, "slope = 0", f, "t", r["slope_t"], 1, r["df_resid"], r["slope_p"], r["slope_p_adj"]))
                if np.isfinite(r["quad_p"]):
                    quad = self._fits[c].quadratic_fits[f].res
                    rows.append((c, "quadratic = 0", f, "t", quad.tvalues.iloc[-1], 1, quad.df_resid, r["quad_p"],
                                 r["quad_p_adj"]))
            if np.isfinite(pooled["homogeneity_p"]):
                rows.append((c, "slope homogeneity", "pooled", "F", pooled["homogeneity_F"],
                             pooled["homogeneity_df_num"], pooled["homogeneity_df_den"], pooled["homogeneity_p"], np.nan))
            if np.isfinite(pooled["quad_p"]):
                quad = self._fits[c].pooled_quadratic.res
                rows.append((c, "quadratic = 0", "pooled", "t", quad.tvalues.iloc[-1], 1, quad.df_resid,
                             pooled["quad_p"], np.nan))
            if np.isfinite(pooled["reset_p"]):
                rows.append((c, "RESET (powers 2, 3)", "pooled", "F", pooled["reset_F"], pooled["reset_df_num"],
                             pooled["reset_df_den"], pooled["reset_p"], np.nan))
        columns = ["component", "test", "family", "kind", "statistic", "df_num", "df_den", "p_value", "p_adjusted"]
        return pd.DataFrame(rows, columns=columns)

    def tidy(self) -> pd.DataFrame:
        """One row per estimate: per-family intercepts, slopes and quadratic terms, the common and mixed slopes,
        efficiency levels and offsets; columns component, section, family, term, estimate, std_error, lower,
        upper, p_value."""
        columns = ["component", "section", "family", "term", "estimate", "std_error", "lower", "upper", "p_value"]
        rows = []
        for c in self.components:
            table, pooled = self.family_table(c), self.pooled.loc[c]
            for f, r in table.iterrows():
                for term, prefix in (("intercept", "intercept"), ("slope", "slope")):
                    p = r["slope_p"] if term == "slope" else np.nan
                    rows.append((c, "family", f, term, r[prefix], r[f"{prefix}_se"], r[f"{prefix}_lower"],
                                 r[f"{prefix}_upper"], p))
                if np.isfinite(r["quad_coef"]):
                    rows.append((c, "family", f, "quadratic", r["quad_coef"], r["quad_se"], np.nan, np.nan, r["quad_p"]))
            rows.append((c, "common_slope", "pooled", "slope", pooled["common_slope"], pooled["common_slope_se"],
                         pooled["common_slope_lower"], pooled["common_slope_upper"], pooled["common_slope_p"]))
            if self._fits[c].mixed is not None:
                rows.append((c, "mixed", "pooled", "slope", pooled["mixed_slope"], pooled["mixed_slope_se"],
                             pooled["mixed_slope_lower"], pooled["mixed_slope_upper"], np.nan))
            eff = self.efficiency(c)
            for f, r in eff.iterrows():
                rows.append((c, "efficiency", f, "level", r["level"], r["level_se"], r["level_lower"],
                             r["level_upper"], np.nan))
                if f != self.reference_family:
                    rows.append((c, "efficiency", f, "offset", r["offset"], r["offset_se"], r["offset_lower"],
                                 r["offset_upper"], r["offset_p"]))
        return pd.DataFrame(rows, columns=columns)

    # ------------------------------------------------------------------ summary
    def summary(self) -> Summary:
        x = self.model.compute
        header = {
            "Components": ", ".join(self.components),
            "Compute": x,
            "Models used": len(self._prep.data),
            "Families fitted": len(self.fitted_families),
            "Families left out": len(self._prep.excluded),
            "Covariance": self.model.cov_type,
            "Reference log10 FLOPs": self.reference_compute,
            "Reference family": self.reference_family,
            "Interval level": 1 - self.model.alpha,
            "Multiple testing": self.model.multitest,
        }
        tables = []
        shown_family = ["n", "df_resid", "slope", "slope_se", "slope_lower", "slope_upper", "slope_p_adj", "r2",
                        "quad_p", "quad_p_adj", "fragile"]
        shown_pooled = ["common_slope", "common_slope_lower", "common_slope_upper", "homogeneity_F",
                        "homogeneity_df_num", "homogeneity_df_den", "homogeneity_p", "quad_coef", "quad_p", "reset_F",
                        "reset_p", "mixed_slope", "mixed_slope_lower", "mixed_slope_upper", "mixed_slope_sd"]
        shown_eff = ["n", "level", "level_lower", "level_upper", "rank", "offset", "offset_lower", "offset_upper",
                     "offset_p_adj", "extrapolated"]
        for c in self.components:
            tables.append((f"Per-family OLS: {c} ~ {x}", self.family_table(c)[shown_family]))
        tables.append(("Pooled models and tests (one row per component)", self.pooled[shown_pooled].T))
        for c in self.components:
            tables.append((f"Compute efficiency: expected {c} at {x} = {self.reference_compute:.4g}",
                           self.efficiency(c)[shown_eff]))
        flagged = self.flagged
        if len(flagged):
            tables.append(("Flagged models (family-slopes model)", flagged))
        if len(self._prep.excluded):
            tables.append(("Families left out", self.excluded))
        return Summary(f"Per-family log-linearity of {', '.join(self.components)} in {x}", header, tables,
                       self._notes(flagged))

    def _notes(self, flagged: pd.DataFrame) -> list[str]:
        prep, model, x = self._prep, self.model, self.model.compute
        notes = [
            f"Per-family OLS {self.components[0]} ~ {x} on the {len(self.fitted_families)} families with at least "
            f"min_models={model.min_models} models with compute; the pooled models use the same "
            f"{len(prep.data)} models.",
        ]
        for reason, models in prep.dropped.items():
            if models:
                notes.append(f"{len(models)} models left out for {reason}: {_short_list(models)}.")
        if len(prep.excluded):
            notes.append(f"{len(prep.excluded)} families left out (SmallFamilyWarning): "
                         f"{_short_list([f'{f} ({n})' for f, n in prep.excluded['n_models'].items()], 12)}.")
        fragile = sorted({f for (_, f), v in self.families["fragile"].items() if v})
        if fragile:
            notes.append(f"Fragile (one residual df, t with 1 df, intervals very wide; R² near 1 by construction): "
                         f"{_short_list(fragile, 12)}.")
        if model.cov_type != "nonrobust":
            fallback = sorted({f for (_, f), v in self.families["cov_type"].items() if v == "nonrobust"})
            notes.append(f"{model.cov_type} covariance where a fit has >= {ROBUST_MIN_DF} residual df and no leverage "
                         f">= {LEVERAGE_LIMIT}; classical covariance for: {_short_list(fallback, 12) or 'none'}.")
        notes += [
            f"p-values of the slope (H0: slope = 0) and of the quadratic term are adjusted across families within each "
            f"component ({model.multitest}). The quadratic test needs >= {MIN_QUADRATIC_MODELS} models per family "
            "(empty otherwise); per family it equals RESET with squared fitted values, so RESET (powers 2, 3) is "
            "run on the pooled model only.",
            f"Intercepts are the values at {x} = 0, far outside the data; compare families by the efficiency table.",
            f"Slope homogeneity: common slope with family intercepts against family-specific slopes. The pooled "
            f"quadratic test adds one common ({x} - {prep.reference_compute:.4g})^2 term to the family-slopes model.",
            f"Efficiency: each family's line evaluated at {x} = {prep.reference_compute:.4g} "
            f"({'given' if model.reference_compute is not None else 'median of the models used'}), residual variance "
            f"pooled over families; offsets from {prep.reference_family} "
            f"({'given' if prep.reference_family_given else 'largest family'}). Ranks order point estimates; "
            "overlapping intervals leave the order open; 'extrapolated' families do not span that compute.",
            f"Influence (family-slopes model): outlier if the Bonferroni p-value of the externally studentized "
            f"residual is below {model.alpha:g}; influential if Cook's distance exceeds the median of F(p, n - p) "
            f"(p parameters of that model). "
            f"{len(flagged)} flags; check the size and token count of flagged models.",
        ]
        for fits in self._fits.values():
            notes += list(fits.notes) + list(fits.mixed_messages)
        return notes


__all__ = ["COV_TYPES", "FamilyPrediction", "FamilyScaling", "FamilyScalingResults", "cooks_threshold"]
