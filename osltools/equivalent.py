"""f-equivalent FLOPs: every model placed on one reference family's compute axis.

METHOD.md steps 4-5. A fitted law gives each model its aggregate capability
``P_m = beta' x_m + alpha`` (logit units). On the reference family f (Llama-2
in the paper) fit ``P = w log10 C + b`` by OLS; then

    log10 C-bar_m = (P_m - b) / w

is the compute a model of family f would need to match model m. Because
``P = w log10 C-bar + b`` for every model, the law becomes a curve in that one
variable:

    y = floor + (ceiling - floor) * sigmoid(w x + b),    x = log10 C-bar.

Uncertainty (delta method)
--------------------------
Included:

1. the estimation error of the law's coefficients beta (their covariance from
   the law's fit). beta enters both P_m and the reference line (w, b are
   linear in the reference models' P), and the gradient carries both, so
   their correlation is accounted for;
2. the scatter of the reference models around their line: the OLS covariance
   of (w, b), treated as independent of (1);
3. for the curve, the law's floor and ceiling (when estimated), and for its
   prediction interval the law's residual variance.

Not included: the uncertainty of the capabilities themselves (imputation and
PCA are taken as given; a bootstrap over models adds it), and errors in the
reported compute of the reference models.

Intervals use a t quantile with Welch-Satterthwaite degrees of freedom for a
variance that sums a part with the law's ``n - p`` df and a part with the
line's ``n_ref - 2`` df.

The rule for w
--------------
w must be distinguishable from 0, or C-bar is meaningless. With at least 2
residual df in the reference line (``n_ref >= 4``) a :class:`FitError` is
raised when the (1 - alpha) interval of w contains 0. The paper's Llama-2 has
3 models with compute (1 df: a 95% t quantile of 12.7), and 2 models leave no
df at all; there the test would be powerless or impossible, so we only require
``w != 0``, and warn (:class:`SmallFamilyWarning`) that the line's scatter is
barely (1 df) or not (0 df: only part 1 above is carried) estimable. A
negative w (P falls with compute in the reference family) is allowed with a
warning.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit

from .data import Panel
from .exceptions import ConfigError, FitError, OSLWarning, SmallFamilyWarning
from .law import LawResults
from .summary import Summary, SummaryMixin

__all__ = ["equivalent_flops", "EquivalentFlops"]

_MAX_LOG10_FLOPS = 40.0  # log10 of training FLOPs above this is surely raw FLOPs, not their log


def _rowwise(grad: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """diag(grad @ cov @ grad.T) without forming the full matrix."""
    return np.einsum("ij,jk,ik->i", grad, cov, grad)


def satterthwaite_df(var_a: np.ndarray, df_a: float, var_b: np.ndarray, df_b: float) -> np.ndarray:
    """Welch-Satterthwaite degrees of freedom of ``var_a + var_b`` (a part with ``df_b = 0`` counts as absent)."""
    var_a, var_b = np.asarray(var_a, float), np.asarray(var_b, float)
    terms = var_a**2 / df_a + (var_b**2 / df_b if df_b > 0 else 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (var_a + var_b) ** 2 / terms
    return np.where(terms > 0, df, df_a)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")


def _columns(frame: pd.DataFrame, family: str, compute: str) -> pd.Series:
    for argument, column in (("family", family), ("compute", compute)):
        if column not in frame.columns:
            raise ConfigError(f"{argument}={column!r} is not a column of data "
                              f"(columns include: {', '.join(map(str, frame.columns[:12]))})")
    log_c = pd.to_numeric(frame[compute], errors="raise").astype(float)
    if (log_c > _MAX_LOG10_FLOPS).any():
        raise ConfigError(f"compute column {compute!r} has values up to {log_c.max():.3g}: it looks like raw FLOPs; "
                          "pass log10 of training FLOPs (e.g. the Panel's 'log10_flops')")
    return log_c


def _reference_rows(frame: pd.DataFrame, rows: pd.Index, family: str, reference: str, log_c: pd.Series) -> pd.Index:
    fam = frame[family]
    known = sorted(map(str, fam.dropna().unique()))
    if reference not in known:
        raise ConfigError(f"reference_family={reference!r} is not in the data (known families: {', '.join(known)})")
    usable = fam.loc[rows][log_c.loc[rows].notna()]
    ref = usable.index[(usable == reference).to_numpy()]
    if len(ref) < 2 or log_c.loc[ref].nunique() < 2:
        counts = usable.value_counts()
        options = ", ".join(f"{f} ({n})" for f, n in counts[counts >= 2].items())
        raise FitError(
            f"reference family {reference!r} has {len(ref)} models with compute and all the law's predictors "
            f"({log_c.loc[ref].nunique()} distinct compute values): need at least 2 to fit P = w log10 C + b; "
            f"choose another reference_family, e.g. {options or 'none has 2'}"
        )
    return ref


class EquivalentFlops(SummaryMixin):
    """f-equivalent FLOPs of models relative to a reference family (see :func:`equivalent_flops`)."""

    def __init__(self, law: LawResults, frame: pd.DataFrame, X: pd.DataFrame, reference: pd.Index, *,
                 reference_family: str, family: str, compute: str, log_c: pd.Series, alpha: float):
        self.law = law
        self.reference_family = reference_family
        self.family_column, self.compute_column = family, compute
        k = X.shape[1]
        self._beta = law.params.to_numpy()[:k]
        self._cov_beta = law.cov_params().to_numpy()[:k, :k]
        self._X = X
        self._P = X.to_numpy() @ self._beta
        self._family = frame[family].reindex(X.index)
        self._log_c = log_c.reindex(X.index)
        self.excluded = tuple(frame.index.difference(X.index, sort=False))
        self.reference_models = tuple(reference)
        ref_pos = X.index.get_indexer(reference)
        Z = np.column_stack([self._log_c.loc[reference].to_numpy(), np.ones(len(reference))])
        self.ols = sm.OLS(self._P[ref_pos], Z).fit()
        self.df_line = len(reference) - 2
        self.df_law = law.df_resid
        # d(w, b)/d beta: the OLS coefficients are linear in the reference models' P = X_ref beta
        self._dline_dbeta = np.linalg.solve(Z.T @ Z, Z.T) @ X.to_numpy()[ref_pos]
        self._cov_line = self.ols.cov_params() if self.df_line > 0 else np.zeros((2, 2))
        self._cov_law_wb = self._dline_dbeta @ self._cov_beta @ self._dline_dbeta.T
        self._check_slope(alpha)

    # -------------------------------------------------------------------------------------- the line
    @property
    def params(self) -> pd.Series:
        """Slope ``w`` and intercept ``b`` of ``P = w log10 C + b`` on the reference family."""
        return pd.Series(np.asarray(self.ols.params, float), index=["w", "b"], name="params")

    def cov_params(self) -> pd.DataFrame:
        """Covariance of (w, b): the line's OLS covariance plus the part from the law's beta."""
        return pd.DataFrame(self._cov_line + self._cov_law_wb, index=["w", "b"], columns=["w", "b"])

    @property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov_params())), index=["w", "b"], name="bse")

    @property
    def df(self) -> pd.Series:
        """Satterthwaite degrees of freedom of w and b."""
        return pd.Series(satterthwaite_df(np.diag(self._cov_law_wb), self.df_law, np.diag(self._cov_line),
                                          self.df_line), index=["w", "b"], name="df")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        _check_alpha(alpha)
        q = stats.t.ppf(1 - alpha / 2, self.df)
        return pd.DataFrame({"lower": self.params - q * self.bse, "upper": self.params + q * self.bse})

    def _check_slope(self, alpha: float) -> None:
        w = self.params["w"]
        if not np.isfinite(w) or w == 0:
            raise FitError(f"the reference line's slope w = {w} : P does not change with compute in "
                           f"{self.reference_family!r}; choose another reference_family")
        ci = self.conf_int(alpha).loc["w"]
        where = f"w = {w:.4g}, {1 - alpha:.0%} interval [{ci['lower']:.4g}, {ci['upper']:.4g}]"
        if self.df_line >= 2 and ci["lower"] <= 0 <= ci["upper"]:
            raise FitError(
                f"in reference family {self.reference_family!r} ({len(self.reference_models)} models) the slope of P on "
                f"log10 compute is not distinguishable from 0 ({where}); equivalent FLOPs would be meaningless: choose "
                "a reference family with more models or a wider compute range"
            )
        if self.df_line < 2:
            scatter = ("is not estimable: only the law's uncertainty is carried into C-bar" if self.df_line == 0 else
                       f"rests on 1 df (t quantile {stats.t.ppf(1 - alpha / 2, 1):.3g}): intervals are wide")
            warnings.warn(
                f"reference family {self.reference_family!r} has {len(self.reference_models)} models with compute, so "
                f"the scatter of P around its line {scatter}; w is required to be nonzero but not tested ({where})",
                SmallFamilyWarning, stacklevel=3,
            )
        if w < 0:
            warnings.warn(f"w = {w:.4g} < 0: P falls with compute in {self.reference_family!r}, so equivalent FLOPs "
                          "run backwards", OSLWarning, stacklevel=3)

    # -------------------------------------------------------------------------------------- per model
    def per_model(self, alpha: float = 0.05) -> pd.DataFrame:
        """Per model: family, actual log10 FLOPs, P and its SE, log10 C-bar with its SE, df and interval."""
        _check_alpha(alpha)
        w, b = self.params
        C = (self._P - b) / w
        d_beta = (self._X.to_numpy() - self._dline_dbeta[1] - C[:, None] * self._dline_dbeta[0]) / w
        d_line = np.column_stack([-C / w, np.full_like(C, -1.0 / w)])
        var_law, var_line = _rowwise(d_beta, self._cov_beta), _rowwise(d_line, self._cov_line)
        se = np.sqrt(var_law + var_line)
        df = satterthwaite_df(var_law, self.df_law, var_line, self.df_line)
        q = stats.t.ppf(1 - alpha / 2, df)
        return pd.DataFrame({
            "family": self._family,
            "reference": self._X.index.isin(self.reference_models),
            "log10_flops": self._log_c,
            "P": self._P,
            "P_se": np.sqrt(_rowwise(self._X.to_numpy(), self._cov_beta)),
            "log10_flops_equivalent": C,
            "se": se,
            "df": df,
            "ci_lower": C - q * se,
            "ci_upper": C + q * se,
        }, index=self._X.index)

    # -------------------------------------------------------------------------------------- the curve
    def curve(self, x: Any = None, *, alpha: float = 0.05, n: int = 100) -> pd.DataFrame:
        """The law as a curve in log10 C-bar, with confidence and prediction bands.

        ``x`` defaults to ``n`` points spanning the models' equivalent FLOPs.
        Columns as :meth:`LawResults.get_prediction`'s summary frame, indexed
        by ``log10_flops_equivalent``. Both bands use the t quantile with the
        Satterthwaite df of the confidence band (for the prediction band this
        is conservative and keeps the bands nested).
        """
        _check_alpha(alpha)
        if x is None:
            C = self.per_model()["log10_flops_equivalent"]
            x = np.linspace(C.min(), C.max(), n)
        x = np.atleast_1d(np.asarray(x, float))
        if x.ndim != 1 or not np.all(np.isfinite(x)):
            raise ConfigError("x must be a 1-d array of finite log10 FLOPs values")
        law = self.law
        w, b = self.params
        floor, ceiling = law.floor, law.ceiling
        z = w * x + b
        s = expit(z)
        slope = (ceiling - floor) * s * expit(-z)
        k = len(self._beta)
        d_theta = np.zeros((len(x), len(law.params)))
        d_theta[:, :k] = slope[:, None] * (x[:, None] * self._dline_dbeta[0] + self._dline_dbeta[1])
        limits = law.model.limits.estimated
        for j, name in enumerate(limits):
            d_theta[:, k + j] = 1.0 - s if name == "floor" else s
        d_line = slope[:, None] * np.column_stack([x, np.ones_like(x)])
        var_law = _rowwise(d_theta, law.cov_params().to_numpy())
        var_line = _rowwise(d_line, self._cov_line)
        mean = floor + (ceiling - floor) * s
        se = np.sqrt(var_law + var_line)
        obs_se = np.sqrt(var_law + var_line + law.sigma**2)
        if law.model.weights is not None:
            warnings.warn("the law is weighted: the curve's prediction band assumes weight 1", OSLWarning, stacklevel=2)
        # The band for a new observation keeps the confidence band's df: a Satterthwaite df recomputed with the
        # residual variance could exceed it and make the prediction band narrower than the confidence band.
        q = stats.t.ppf(1 - alpha / 2, satterthwaite_df(var_law, self.df_law, var_line, self.df_line))
        return pd.DataFrame({
            "mean": mean, "mean_se": se, "mean_ci_lower": mean - q * se, "mean_ci_upper": mean + q * se,
            "obs_ci_lower": mean - q * obs_se, "obs_ci_upper": mean + q * obs_se,
        }, index=pd.Index(x, name="log10_flops_equivalent"))

    # -------------------------------------------------------------------------------------- display
    def summary(self, alpha: float = 0.05) -> Summary:
        ci = self.conf_int(alpha)
        line = pd.DataFrame({"coef": self.params, "std err": self.bse, "df": self.df,
                             f"[{alpha / 2:g}": ci["lower"], f"{1 - alpha / 2:g}]": ci["upper"]})
        table = self.per_model(alpha)
        header = {
            "Reference family": self.reference_family,
            "Reference models": len(self.reference_models),
            "Line residual df": self.df_line,
            "Line R-squared": float(self.ols.rsquared) if self.df_line > 0 else None,
            "Law": repr(self.law),
            "Models mapped": len(table),
            "Families": int(table["family"].nunique()),
        }
        notes = [
            f"P = w log10 C + b fitted by OLS on {', '.join(self.reference_models)}; log10 C-bar = (P - b) / w, and the "
            f"law reads y = {self.law.floor:.4g} + ({self.law.ceiling:.4g} - {self.law.floor:.4g}) * sigmoid(w x + b).",
            "Standard errors by the delta method: the law's coefficient uncertainty (through P and the line) plus the "
            "reference models' scatter around the line; not the capabilities' own uncertainty (PCA, imputation).",
            "Intervals: t with Welch-Satterthwaite df combining the law's and the line's residual df.",
        ]
        if self.excluded:
            notes.append(f"{len(self.excluded)} models without all the law's predictors are not mapped: "
                         f"{', '.join(map(str, self.excluded[:8]))}{' ...' if len(self.excluded) > 8 else ''}")
        header = {k: v for k, v in header.items() if v is not None}
        return Summary(f"{self.reference_family}-equivalent FLOPs", header,
                       [("Reference line P = w log10 C + b", line), ("Models", table)], notes)

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per estimate: the line's w and b, then each model's log10 C-bar."""
        ci = self.conf_int(alpha)
        line = pd.DataFrame({"kind": "line", "term": ["w", "b"], "family": self.reference_family,
                             "estimate": self.params.to_numpy(), "std_error": self.bse.to_numpy(),
                             "df": self.df.to_numpy(), "conf_low": ci["lower"].to_numpy(),
                             "conf_high": ci["upper"].to_numpy()})
        per = self.per_model(alpha)
        models = pd.DataFrame({"kind": "log10_flops_equivalent", "term": per.index.astype(str), "family": per["family"],
                               "estimate": per["log10_flops_equivalent"], "std_error": per["se"], "df": per["df"],
                               "conf_low": per["ci_lower"], "conf_high": per["ci_upper"]})
        out = pd.concat([line, models.reset_index(drop=True)], ignore_index=True)
        out.insert(0, "reference_family", self.reference_family)
        return out

    def __repr__(self) -> str:
        w, b = self.params
        return (f"<EquivalentFlops {self.reference_family}-equivalent: {len(self._X)} models "
                f"({self._family.nunique()} families), w={w:.4g}, b={b:.4g}, {len(self.reference_models)} reference models>")


def equivalent_flops(
    law: LawResults,
    data: pd.DataFrame | Panel,
    *,
    reference_family: str = "Llama-2",
    family: str = "family",
    compute: str = "log10_flops",
    alpha: float = 0.05,
) -> EquivalentFlops:
    """Map every model of ``data`` to the reference family's compute axis (f-equivalent FLOPs).

    Parameters
    ----------
    law : LawResults
        A fitted law (usually on principal capabilities).
    data : DataFrame or Panel
        Models with the law's predictors, their family and log10 compute
        (models without compute are mapped too; they just have no actual value).
    reference_family : the family whose compute axis is used (Llama-2 in the paper).
    family, compute : column names of the family and of log10 training FLOPs.
    alpha : level of the test that w differs from 0 (see the module notes).

    Returns
    -------
    EquivalentFlops

    Raises
    ------
    ConfigError
        Unknown reference family (the message lists the known ones) or column.
    FitError
        Fewer than 2 reference models with compute and predictors, or w not
        distinguishable from 0 (with >= 2 residual df in the line).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from osltools.law import ScalingLaw
    >>> rng = np.random.default_rng(0)
    >>> data = pd.DataFrame({"family": ["A"] * 5 + ["B"] * 40, "log10_flops": rng.uniform(21, 24, 45)})
    >>> data["PC1"] = 0.5 * (data["log10_flops"] - 22.5) + np.where(data["family"] == "B", 0.3, 0.0)
    >>> data["acc"] = (1 / (1 + np.exp(-(3 * data["PC1"])))) + rng.normal(0, 0.01, 45)
    >>> data["acc"] = data["acc"].clip(0, 1)
    >>> res = ScalingLaw.from_formula("acc ~ PC1", data).fit()
    >>> eq = equivalent_flops(res, data, reference_family="A")
    >>> round(float(eq.params["w"]), 1)
    1.5
    """
    frame = data.frame() if isinstance(data, Panel) else pd.DataFrame(data)
    log_c = _columns(frame, family, compute)
    X = law.design_matrix(frame, missing="drop")
    reference = _reference_rows(frame, X.index, family, reference_family, log_c)
    return EquivalentFlops(law, frame, X, reference, reference_family=reference_family, family=family,
                           compute=compute, log_c=log_c, alpha=alpha)
