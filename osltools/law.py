"""The sigmoid scaling law of a downstream metric, with its uncertainty.

METHOD.md step 3: a downstream metric y of model m is a sigmoid of a linear
function of its predictors x_m (principal capabilities, or log compute for the
baselines):

    y_m = floor + (ceiling - floor) * sigmoid(beta' x_m + alpha)

``floor`` and ``ceiling`` are each fixed or estimated within bounds; the
paper's two forms are available by name (``bounds="ceiling"``: ceiling in
[0.8, 1], floor 0, the paper's h; ``bounds="floor"``: floor in [0, 0.2],
ceiling 1, the public code's form for accuracy targets). The law is fitted by
bounded nonlinear least squares (:func:`scipy.optimize.least_squares`, analytic
Jacobian, optional Huber loss and weights), from several starting values.

Uncertainty
-----------
* ``cov_type="nonrobust"``: ``s^2 (J'J)^-1`` with ``s^2 = RSS / (n - p)``, J
  the (weighted) Jacobian at the optimum. With the Huber loss it is Huber's
  (1981) H1 form, as in :class:`statsmodels.robust.robust_linear_model.RLM`:
  ``k^2 [sum psi^2 / (n - p)] / [mean psi']^2 (J'J)^-1``.
* ``cov_type="sandwich"``: ``n / (n - p) (J'DJ)^-1 (J' diag(psi^2) J)
  (J'DJ)^-1`` with ``D = diag(psi')``, which is HC1 for the squared loss.
* A floor or ceiling that ends on one of its bounds is *held fixed at the
  bound* for the covariance: its row and column are zero, its standard error
  is NaN and the summary says so. The other parameters' uncertainty is then
  conditional on that value. It still counts as estimated in ``p`` (so
  ``df_resid`` does not grow because a bound was hit).
* Intervals are t-based with ``n - p`` degrees of freedom; predictions use the
  delta method (the prediction interval adds the residual variance).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import optimize, stats
from scipy.special import expit

from .data import Panel
from .exceptions import ConfigError, DataError, FitError, OSLWarning
from .immutable import Sealed
from .summary import Summary, SummaryMixin

__all__ = ["ScalingLaw", "LawResults", "LawPrediction", "BOUNDS", "sigmoid_law", "sigmoid_law_jacobian"]

Limit = float | tuple[float, float]

#: The paper's two forms of the law by name (and the plain logistic).
BOUNDS: dict[str, dict[str, Limit]] = {
    "ceiling": {"floor": 0.0, "ceiling": (0.8, 1.0)},  # the paper's h * sigmoid(.)
    "floor": {"floor": (0.0, 0.2), "ceiling": 1.0},  # the public code's b + (1 - b) sigmoid(.)
    "none": {"floor": 0.0, "ceiling": 1.0},
}
LOSSES = ("linear", "huber")
COV_TYPES = ("nonrobust", "sandwich")
MISSING = ("drop", "raise")
_BOUND_TOL = 1e-6  # a limit within this share of its bound range of a bound is "on the bound"
_MAX_COND = 1e8  # condition number of the column-scaled Jacobian beyond which parameters are not identified


# ---------------------------------------------------------------------------------------------- the link
@dataclass(frozen=True)
class _Limits:
    """Floor and ceiling as (low, high) ranges; low == high means fixed."""

    floor: tuple[float, float]
    ceiling: tuple[float, float]

    @property
    def estimated(self) -> list[str]:
        return [name for name in ("floor", "ceiling") if self.range(name)[0] < self.range(name)[1]]

    def range(self, name: str) -> tuple[float, float]:
        return self.floor if name == "floor" else self.ceiling

    def describe(self, name: str) -> str:
        low, high = self.range(name)
        return f"{name} = {low:g} (fixed)" if low == high else f"{name} in [{low:g}, {high:g}]"


def _limit_range(value: Limit, name: str) -> tuple[float, float]:
    accepted = f"a number in [0, 1] (fixed) or a (low, high) tuple within [0, 1] (estimated), e.g. {name}=(0.8, 1.0)"
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigError(f"{name}={value!r} is not accepted: expected {accepted}")
        low, high = (float(v) for v in value)
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        low = high = float(value)
    else:
        raise ConfigError(f"{name}={value!r} is not accepted: expected {accepted}")
    if not (0.0 <= low <= high <= 1.0):
        raise ConfigError(f"{name}={value!r} is not accepted: expected {accepted}")
    return low, high


def resolve_limits(floor: Limit | None, ceiling: Limit | None, bounds: str | None) -> _Limits:
    if bounds is not None:
        if bounds not in BOUNDS:
            raise ConfigError(f"bounds={bounds!r} is not accepted (expected one of {', '.join(map(repr, BOUNDS))})")
        if floor is not None or ceiling is not None:
            raise ConfigError(
                f"pass either bounds={bounds!r} or floor=/ceiling=, not both (bounds={bounds!r} means {BOUNDS[bounds]})"
            )
        floor, ceiling = BOUNDS[bounds]["floor"], BOUNDS[bounds]["ceiling"]
    limits = _Limits(_limit_range(0.0 if floor is None else floor, "floor"),
                     _limit_range(1.0 if ceiling is None else ceiling, "ceiling"))
    if limits.floor[1] >= limits.ceiling[0]:
        raise ConfigError(
            f"floor {limits.floor} and ceiling {limits.ceiling} overlap: the floor's upper end must be below the "
            "ceiling's lower end (e.g. floor=(0, 0.2), ceiling=(0.8, 1))"
        )
    return limits


def _split(theta: np.ndarray, k: int, limits: _Limits) -> tuple[np.ndarray, float, float]:
    beta = theta[:k]
    extra = dict(zip(limits.estimated, theta[k:]))
    return beta, float(extra.get("floor", limits.floor[0])), float(extra.get("ceiling", limits.ceiling[0]))


def sigmoid_law(theta: np.ndarray, exog: np.ndarray, limits: _Limits) -> np.ndarray:
    """Mean of the law, ``floor + (ceiling - floor) * sigmoid(exog @ beta)``, for a parameter vector."""
    beta, floor, ceiling = _split(np.asarray(theta, float), exog.shape[1], limits)
    return floor + (ceiling - floor) * expit(exog @ beta)


def sigmoid_law_jacobian(theta: np.ndarray, exog: np.ndarray, limits: _Limits) -> np.ndarray:
    """d mean / d theta (rows: observations; columns: beta, then floor and ceiling when estimated)."""
    beta, floor, ceiling = _split(np.asarray(theta, float), exog.shape[1], limits)
    z = exog @ beta
    s = expit(z)
    columns = [((ceiling - floor) * s * expit(-z))[:, None] * exog]
    if "floor" in limits.estimated:
        columns.append((1.0 - s)[:, None])
    if "ceiling" in limits.estimated:
        columns.append(s[:, None])
    return np.hstack(columns)


# ---------------------------------------------------------------------------------------------- inputs
def _as_frame(exog: Any, index: pd.Index | None) -> pd.DataFrame:
    if isinstance(exog, pd.DataFrame):
        return exog.copy()
    if isinstance(exog, pd.Series):
        return exog.to_frame()
    values = np.asarray(exog, dtype=float)
    values = values[:, None] if values.ndim == 1 else values
    if values.ndim != 2:
        raise ConfigError(f"exog must be 2-dimensional (models x predictors); got shape {values.shape}")
    return pd.DataFrame(values, index=index, columns=[f"x{j}" for j in range(values.shape[1])])


def _numeric(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise DataError(f"{what} columns {bad} are not numeric (expected numbers; encode categories yourself)")
    return frame.astype(float)


def _align_weights(weights: Any, index: pd.Index, what: str = "weights") -> np.ndarray:
    if isinstance(weights, pd.Series):
        missing = index.difference(weights.index)
        if len(missing):
            raise DataError(f"{what} has no value for {len(missing)} rows, e.g. {list(missing[:3])}")
        return weights.reindex(index).to_numpy(dtype=float)
    values = np.asarray(weights, dtype=float).ravel()
    if len(values) != len(index):
        raise DataError(f"{what} has {len(values)} values for {len(index)} rows (expected one per row)")
    return values


def _check_target(y: pd.Series, name: str) -> None:
    outside = y[(y < 0) | (y > 1)]
    if len(outside):
        shown = ", ".join(f"{m}={v:g}" for m, v in outside.iloc[:5].items())
        raise DataError(
            f"target {name!r} has {len(outside)} values outside [0, 1] ({shown}{' ...' if len(outside) > 5 else ''}); "
            "the sigmoid law models fractions: rescale the target (e.g. divide percentages or BLEU by 100, "
            "Panel.with_targets(..., scale=100)) or shift normalized scores into [0, 1]"
        )


def _dependent_columns(exog: pd.DataFrame) -> list[str]:
    """Columns that take part in a linear dependency of the design (empty when it has full rank)."""
    values = exog.to_numpy()
    rank = np.linalg.matrix_rank(values)
    if rank == values.shape[1]:
        return []
    return [c for j, c in enumerate(exog.columns) if np.linalg.matrix_rank(np.delete(values, j, axis=1)) == rank]


def _intercept_name(exog: pd.DataFrame) -> str | None:
    for column in exog.columns:
        if len(exog) and np.all(exog[column].to_numpy() == 1.0):
            return str(column)
    return None


# ---------------------------------------------------------------------------------------------- the model
class ScalingLaw:
    """A sigmoid scaling law, ``y = floor + (ceiling - floor) * sigmoid(exog @ beta)`` (configuration only).

    Most users start from :meth:`from_formula`; this array entry point takes the
    design matrix as given (add a constant column for the law's alpha, as
    :func:`statsmodels.api.add_constant` does; the formula front door adds one).

    Parameters
    ----------
    endog : Series or array (n,)
        The downstream metric, fractions in [0, 1].
    exog : DataFrame or array (n, k)
        The design matrix; its column names label the parameters.
    floor, ceiling : float or (low, high)
        Fixed value, or range within which it is estimated (both within
        [0, 1]; the floor's range below the ceiling's). Default 0 and 1.
    bounds : {"ceiling", "floor", "none"}, optional
        The paper's forms by name instead of ``floor``/``ceiling``:
        ``"ceiling"`` = ceiling in [0.8, 1] with floor 0 (the paper's h),
        ``"floor"`` = floor in [0, 0.2] with ceiling 1 (the public code's form).
    loss : {"linear", "huber"}
        Squared loss or Huber's (the paper's post-training fits use Huber).
    f_scale : float
        Huber threshold in (weighted) residual units; the public code's 0.1 by default.
    weights : array or Series, optional
        Positive observation weights, e.g. ``1 / stderr**2`` of the target.
    missing : {"drop", "raise"}
        Rows with a missing value in endog, exog or weights are dropped (and
        recorded in ``dropped``) or raise a :class:`DataError`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.linspace(-3, 3, 40)
    >>> y = 1 / (1 + np.exp(-(1.5 * x - 0.5))) + np.random.default_rng(0).normal(0, 0.01, 40)
    >>> law = ScalingLaw(np.clip(y, 0, 1), pd.DataFrame({"const": 1.0, "x": x}))
    >>> res = law.fit()
    >>> round(float(res.params["x"]), 1)
    1.5
    """

    def __init__(
        self,
        endog: Any,
        exog: Any,
        *,
        floor: Limit | None = None,
        ceiling: Limit | None = None,
        bounds: str | None = None,
        loss: str = "linear",
        f_scale: float = 0.1,
        weights: Any = None,
        missing: str = "drop",
    ):
        self._init(endog, exog, floor=floor, ceiling=ceiling, bounds=bounds, loss=loss, f_scale=f_scale,
                   weights=weights, missing=missing, formula=None, design_info=None, families=None)

    def _init(self, endog, exog, *, floor, ceiling, bounds, loss, f_scale, weights, missing, formula, design_info,
              families) -> None:
        if loss not in LOSSES:
            raise ConfigError(f"loss={loss!r} is not accepted (expected one of {', '.join(map(repr, LOSSES))})")
        if missing not in MISSING:
            raise ConfigError(f"missing={missing!r} is not accepted (expected 'drop' or 'raise')")
        if not (np.isfinite(f_scale) and f_scale > 0):
            raise ConfigError(f"f_scale={f_scale!r} is not accepted (expected a positive number, e.g. 0.1)")
        self.limits = resolve_limits(floor, ceiling, bounds)
        self.bounds = bounds
        self.loss = loss
        self.f_scale = float(f_scale)
        self.formula = formula
        self.design_info = design_info
        y = endog.copy() if isinstance(endog, pd.Series) else pd.Series(np.asarray(endog).ravel(), name="y")
        X = _as_frame(exog, y.index)
        if len(X) != len(y):
            raise ConfigError(f"endog has {len(y)} rows but exog has {len(X)} (expected the same models)")
        if isinstance(endog, pd.Series) and isinstance(exog, (pd.DataFrame, pd.Series)) and not X.index.equals(y.index):
            raise ConfigError("endog and exog have different indexes (expected the same models in the same order)")
        X.index = y.index
        if y.index.has_duplicates:
            raise DataError(f"model index has duplicates: {sorted(set(y.index[y.index.duplicated()]))[:5]}")
        self.target = str(y.name) if y.name is not None else "y"
        y = _numeric(y.to_frame(), "endog").iloc[:, 0]
        X = _numeric(X, "exog")
        w = None if weights is None else _align_weights(weights, y.index)
        keep = y.notna() & X.notna().all(axis=1)
        if w is not None:
            keep &= ~np.isnan(w)
        self.dropped = tuple(y.index[~keep.to_numpy()])
        if self.dropped and missing == "raise":
            raise DataError(f"{len(self.dropped)} rows have missing values, e.g. {list(self.dropped[:5])} "
                            "(pass missing='drop' to leave them out)")
        keep = keep.to_numpy()
        self.endog, self.exog = y[keep], X[keep]
        self.weights = None if w is None else w[keep]
        if self.weights is not None and not (np.all(np.isfinite(self.weights)) and np.all(self.weights > 0)):
            raise DataError("weights must be positive and finite for every model used (e.g. 1 / stderr**2)")
        infinite = self.exog.index[~np.isfinite(self.exog.to_numpy()).all(axis=1)]
        if len(infinite):
            raise DataError(f"predictors are infinite for {len(infinite)} models, e.g. {list(infinite[:5])} (log10 of 0?); "
                            "drop those models or transform differently")
        _check_target(self.endog, self.target)
        self.families = None if families is None else families.reindex(self.endog.index)
        self.intercept = _intercept_name(self.exog)

    @classmethod
    def from_formula(
        cls,
        formula: str,
        data: pd.DataFrame | Panel,
        *,
        floor: Limit | None = None,
        ceiling: Limit | None = None,
        bounds: str | None = None,
        loss: str = "linear",
        f_scale: float = 0.1,
        weights: str | Any = None,
        missing: str = "drop",
        eval_env: int = 0,
    ) -> ScalingLaw:
        """The law from a patsy formula, e.g. ``"gsm8k_cot ~ PC1 + PC2 + PC3"`` (the front door).

        The formula's intercept is the law's alpha; ``np`` is available in
        formulas (``"target ~ np.log10(params_b)"``); odd column names need
        ``Q("odd-name")``. Rows with a missing value are dropped and listed in
        ``dropped``. ``weights`` is a column name of ``data`` or values aligned
        with its rows. A :class:`~osltools.data.Panel` is used through ``frame()``.
        If ``data`` has a ``family`` column, the number of families is reported.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(1)
        >>> data = pd.DataFrame({"PC1": rng.normal(size=60)})
        >>> data["acc"] = 0.25 + 0.75 / (1 + np.exp(-2 * data["PC1"])) + rng.normal(0, 0.02, 60)
        >>> res = ScalingLaw.from_formula("acc ~ PC1", data.clip(upper=1), bounds="floor").fit()
        >>> list(res.params.index)
        ['Intercept', 'PC1', 'floor']
        """
        frame = data.frame() if isinstance(data, Panel) else pd.DataFrame(data)
        if frame.index.has_duplicates:
            raise DataError(f"data index has duplicates: {sorted(set(frame.index[frame.index.duplicated()]))[:5]}")
        env = patsy.EvalEnvironment.capture(eval_env + 1).with_outer_namespace({"np": np})
        try:
            y, X = patsy.dmatrices(formula, frame, NA_action="drop", return_type="dataframe", eval_env=env)
        except patsy.PatsyError as err:
            raise ConfigError(
                f"formula {formula!r} cannot be evaluated on the data: {err.message} "
                f"(columns include: {', '.join(map(str, frame.columns[:12]))}{' ...' if frame.shape[1] > 12 else ''}; "
                'use Q("odd-name") for names with spaces or dashes)'
            ) from err
        if y.shape[1] != 1:
            raise ConfigError(f"formula {formula!r} has {y.shape[1]} columns on the left (expected one numeric target)")
        endog = y.iloc[:, 0].rename(str(y.columns[0]))
        all_rows = frame.index
        if isinstance(weights, str):
            if weights not in frame.columns:
                raise ConfigError(f"weights={weights!r} is not a column of data")
            weights = frame[weights]
        if weights is not None:
            weights = pd.Series(_align_weights(weights, all_rows), index=all_rows).reindex(endog.index)
        dropped_by_patsy = tuple(all_rows.difference(endog.index, sort=False))
        if dropped_by_patsy and missing == "raise":
            raise DataError(f"{len(dropped_by_patsy)} rows have missing values, e.g. {list(dropped_by_patsy[:5])} "
                            "(pass missing='drop' to leave them out)")
        families = frame["family"] if "family" in frame.columns else None
        law = cls.__new__(cls)
        law._init(endog, X, floor=floor, ceiling=ceiling, bounds=bounds, loss=loss, f_scale=f_scale, weights=weights,
                  missing=missing, formula=formula, design_info=X.design_info, families=families)
        law.dropped = dropped_by_patsy + law.dropped
        return law

    # -------------------------------------------------------------------------------------- fitting
    @property
    def param_names(self) -> list[str]:
        return [*map(str, self.exog.columns), *self.limits.estimated]

    @property
    def nobs(self) -> int:
        return len(self.endog)

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        k = self.exog.shape[1]
        low = [-np.inf] * k + [self.limits.range(n)[0] for n in self.limits.estimated]
        high = [np.inf] * k + [self.limits.range(n)[1] for n in self.limits.estimated]
        return np.array(low), np.array(high)

    def _starts(self) -> list[np.ndarray]:
        """Logit-linear OLS on the target clipped into the link's range, for a few floor/ceiling starts."""
        y, X = self.endog.to_numpy(), self.exog.to_numpy()
        sw = np.ones_like(y) if self.weights is None else np.sqrt(self.weights)
        choices = {}
        for name, extreme in (("floor", y.min()), ("ceiling", y.max())):
            low, high = self.limits.range(name)
            choices[name] = sorted({float(np.clip(extreme, low, high)), (low + high) / 2})
        starts = []
        for floor in choices["floor"]:
            for ceiling in choices["ceiling"]:
                for margin in (0.02, 0.1):
                    u = np.clip((y - floor) / (ceiling - floor), margin, 1 - margin)
                    beta = np.linalg.lstsq(X * sw[:, None], np.log(u / (1 - u)) * sw, rcond=None)[0]
                    extra = [v for n, v in (("floor", floor), ("ceiling", ceiling)) if n in self.limits.estimated]
                    starts.append(np.concatenate([beta, extra]))
        unique = []
        for s in starts:
            if not any(np.allclose(s, u) for u in unique):
                unique.append(s)
        return unique

    def _check_fittable(self) -> None:
        n, p = self.nobs, len(self.param_names)
        if n <= p:
            raise FitError(
                f"{n} models with {self.target!r} and all predictors for {p} parameters ({', '.join(self.param_names)}): "
                "need more models than parameters; use fewer predictors, fix the floor/ceiling, or add models"
            )
        if np.ptp(self.endog.to_numpy()) == 0:
            raise FitError(f"target {self.target!r} takes the single value {self.endog.iloc[0]:g} on all {n} models: "
                           "there is nothing to fit")
        dependent = _dependent_columns(self.exog)
        if dependent:
            raise FitError(
                f"the design matrix is degenerate: columns {dependent} are linearly dependent (e.g. a constant "
                "predictor besides the intercept, or a predictor repeated); drop one of them"
            )

    def fit(self, *, cov_type: str = "nonrobust", max_nfev: int | None = None) -> LawResults:
        """Fit the law by bounded nonlinear least squares from several starting values.

        Parameters
        ----------
        cov_type : {"nonrobust", "sandwich"}
            Jacobian-based covariance, or the HC1-like sandwich (see module notes).
        max_nfev : int, optional
            Evaluations per start (default ``200 * n_params``).

        Returns
        -------
        LawResults

        Raises
        ------
        FitError
            Too few models, degenerate design, no start converged, or the
            parameters are not identified at the optimum; the message says what to try.
        """
        _check_cov_type(cov_type)
        if max_nfev is not None and (isinstance(max_nfev, bool) or not isinstance(max_nfev, (int, np.integer))
                                     or max_nfev < 1):
            raise ConfigError(f"max_nfev={max_nfev!r} is not accepted (expected a positive integer, e.g. 2000)")
        self._check_fittable()
        y, X = self.endog.to_numpy(), self.exog.to_numpy()
        sw = np.ones_like(y) if self.weights is None else np.sqrt(self.weights)
        limits = self.limits

        def residuals(theta):
            return sw * (sigmoid_law(theta, X, limits) - y)

        def jacobian(theta):
            return sw[:, None] * sigmoid_law_jacobian(theta, X, limits)

        low, high = self._bounds()
        nfev = max_nfev or 200 * len(low)
        solutions, messages = [], []
        for start in self._starts():
            start = np.clip(start, low, high)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # overflow in exp at wild trial steps
                sol = optimize.least_squares(
                    residuals, start, jac=jacobian, bounds=(low, high), method="trf", loss=self.loss,
                    f_scale=self.f_scale, x_scale="jac", ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=nfev,
                )
            (solutions if sol.status > 0 and np.all(np.isfinite(sol.x)) else messages).append(sol)
        if not solutions:
            raise FitError(
                f"the law for {self.target!r} did not converge from any of {len(messages)} starting values "
                f"({messages[0].message if messages else 'no start'}); try: fix the floor/ceiling, use fewer "
                "predictors, a larger max_nfev, or check that the target rises with the predictors"
            )
        best = min(solutions, key=lambda s: s.cost)
        self._check_finite_optimum(best.x, residuals)
        return LawResults._from_solution(self, best, n_starts=len(solutions) + len(messages), cov_type=cov_type)

    def _check_finite_optimum(self, theta: np.ndarray, residuals) -> None:
        """A target perfectly separated by the predictors has no finite optimum: a steeper sigmoid always fits better.

        At a finite optimum doubling every coefficient (same threshold, twice as steep) raises the loss; when it
        does not, the optimizer only stopped on its tolerance while the slope runs off to infinity.
        """
        k = self.exog.shape[1]
        steeper = theta.copy()
        steeper[:k] *= 2.0
        here, there = _loss(residuals(theta), self.loss, self.f_scale), _loss(residuals(steeper), self.loss, self.f_scale)
        if there <= here * (1 + 1e-9):
            raise FitError(
                f"the law for {self.target!r} has no finite optimum: the target is (nearly) a step in the predictors, so a "
                "steeper sigmoid always fits better and the slope cannot be estimated; try fewer predictors, fixed "
                "floor/ceiling, or add models between the low and the high ones"
            )

    def __repr__(self) -> str:
        what = self.formula or f"{self.target} ~ {' + '.join(map(str, self.exog.columns))}"
        return f"<ScalingLaw {what}: {self.nobs} models, {', '.join(self.limits.describe(n) for n in ('floor', 'ceiling'))}>"


# ---------------------------------------------------------------------------------------------- covariance
def _psi(r: np.ndarray, loss: str, f_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """psi(r) = d loss / d r and its derivative, for the (weighted) residuals."""
    if loss == "linear":
        return r, np.ones_like(r)
    inside = np.abs(r) <= f_scale
    return np.where(inside, r, f_scale * np.sign(r)), inside.astype(float)


def _loss(resid: np.ndarray, loss: str, f_scale: float) -> float:
    """The fitted objective: sum of squares, or Huber's (quadratic within f_scale, linear beyond)."""
    a = np.abs(resid)
    if loss == "linear":
        return float(np.sum(a**2))
    return float(np.sum(np.where(a <= f_scale, a**2, 2 * f_scale * a - f_scale**2)))


def law_covariance(jac: np.ndarray, resid: np.ndarray, *, df_resid: int, n_params: int, loss: str, f_scale: float,
                   cov_type: str) -> np.ndarray:
    """Covariance of the free parameters (see the module notes for the formulas)."""
    n = len(resid)
    psi, dpsi = _psi(resid, loss, f_scale)
    if dpsi.sum() == 0:
        raise FitError(f"every residual lies beyond the Huber threshold f_scale={f_scale:g}: no covariance can be "
                       "estimated; use a larger f_scale")
    if cov_type == "nonrobust":
        m = dpsi.mean()
        k = 1 + n_params / n * dpsi.var() / m**2
        scale = k**2 * np.sum(psi**2) / df_resid / m**2
        return scale * np.linalg.inv(jac.T @ jac)
    bread = np.linalg.inv((jac * dpsi[:, None]).T @ jac)
    meat = (jac * psi[:, None] ** 2).T @ jac
    return n / df_resid * bread @ meat @ bread


def _check_cov_type(cov_type: str) -> None:
    if cov_type not in COV_TYPES:
            raise ConfigError(f"cov_type={cov_type!r} is not accepted (expected one of {', '.join(map(repr, COV_TYPES))})")


def _identified(jac: np.ndarray) -> float:
    """Condition number of the Jacobian with unit-length columns (inf when a column is zero)."""
    norms = np.linalg.norm(jac, axis=0)
    if np.any(norms == 0):
        return np.inf
    sv = np.linalg.svd(jac / norms, compute_uv=False)
    return float(sv[0] / sv[-1]) if sv[-1] > 0 else np.inf


# ---------------------------------------------------------------------------------------------- results
class LawResults(Sealed, SummaryMixin):
    """A fitted sigmoid scaling law (immutable); see :class:`ScalingLaw` and the module notes."""

    def __init__(self, model: ScalingLaw, theta: np.ndarray, at_bound: dict[str, str], cov_type: str,
                 optimizer: dict[str, Any]):
        self.model = model
        self._theta = np.asarray(theta, float)
        self._at_bound = dict(at_bound)
        self.cov_type = cov_type
        self.optimizer = dict(optimizer)
        X, y = model.exog.to_numpy(), model.endog.to_numpy()
        self._sw = np.ones_like(y) if model.weights is None else np.sqrt(model.weights)
        self._fitted = sigmoid_law(self._theta, X, model.limits)
        wresid = self._sw * (self._fitted - y)
        jac = self._sw[:, None] * sigmoid_law_jacobian(self._theta, X, model.limits)
        names = model.param_names
        free = np.array([n not in self._at_bound for n in names])
        self.df_resid = model.nobs - len(names)
        self.rss = float(np.sum(wresid**2))
        self.condition_number = _identified(jac[:, free])
        if not np.isfinite(self.condition_number) or self.condition_number > _MAX_COND:
            raise FitError(
                f"the law's parameters for {model.target!r} are not identified at the optimum (condition number "
                f"{self.condition_number:.3g}): the sigmoid is flat or saturated over the data, or predictors are "
                "nearly collinear; try fixing the floor/ceiling, fewer predictors, or check the target varies"
            )
        cov = np.zeros((len(names), len(names)))
        cov[np.ix_(free, free)] = law_covariance(
            jac[:, free], wresid, df_resid=self.df_resid, n_params=len(names), loss=model.loss,
            f_scale=model.f_scale, cov_type=cov_type,
        )
        self._cov = cov
        self._free = free
        self._seal()

    @classmethod
    def _from_solution(cls, model: ScalingLaw, sol: optimize.OptimizeResult, *, n_starts: int,
                       cov_type: str) -> LawResults:
        k = model.exog.shape[1]
        at_bound = {}
        for j, name in enumerate(model.limits.estimated):
            low, high = model.limits.range(name)
            value, tol = sol.x[k + j], _BOUND_TOL * (high - low)
            if value - low <= tol or sol.active_mask[k + j] < 0:
                at_bound[name] = "lower"
            elif high - value <= tol or sol.active_mask[k + j] > 0:
                at_bound[name] = "upper"
        theta = sol.x.copy()
        for j, name in enumerate(model.limits.estimated):
            if name in at_bound:  # the optimizer stops a hair inside the bound; report the bound itself
                theta[k + j] = model.limits.range(name)[0 if at_bound[name] == "lower" else 1]
        info = {"status": int(sol.status), "message": str(sol.message), "nfev": int(sol.nfev),
                "cost": float(sol.cost), "optimality": float(sol.optimality), "n_starts": n_starts}
        return cls(model, theta, at_bound, cov_type, info)

    def with_cov_type(self, cov_type: str) -> LawResults:
        """The same fit with another covariance type (no refitting)."""
        _check_cov_type(cov_type)
        return LawResults(self.model, self._theta, self._at_bound, cov_type, self.optimizer)

    # -------------------------------------------------------------------------------------- estimates
    @property
    def nobs(self) -> int:
        return self.model.nobs

    @property
    def params(self) -> pd.Series:
        """Coefficients labelled by the design's column names, then ``floor``/``ceiling`` when estimated."""
        return pd.Series(self._theta, index=self.model.param_names, name="params")

    @property
    def floor(self) -> float:
        return _split(self._theta, self.model.exog.shape[1], self.model.limits)[1]

    @property
    def ceiling(self) -> float:
        return _split(self._theta, self.model.exog.shape[1], self.model.limits)[2]

    @property
    def at_bound(self) -> pd.Series:
        """Per parameter: ``"lower"``/``"upper"`` when it ended on that bound (held fixed for the covariance), else ``""``."""
        names = self.model.param_names
        return pd.Series([self._at_bound.get(n, "") for n in names], index=names, name="at_bound", dtype=object)

    def cov_params(self) -> pd.DataFrame:
        """Covariance of the parameters (zero row and column for a parameter held at its bound)."""
        names = self.model.param_names
        return pd.DataFrame(self._cov, index=names, columns=names)

    @property
    def bse(self) -> pd.Series:
        se = np.sqrt(np.diag(self._cov))
        return pd.Series(np.where(self._free, se, np.nan), index=self.model.param_names, name="bse")

    @property
    def tvalues(self) -> pd.Series:
        return (self.params / self.bse).rename("tvalues")

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(2 * stats.t.sf(np.abs(self.tvalues), self.df_resid), index=self.model.param_names,
                         name="pvalues")

    def _tcrit(self, alpha: float) -> float:
        if not 0 < alpha < 1:
            raise ConfigError(f"alpha={alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")
        return float(stats.t.ppf(1 - alpha / 2, self.df_resid))

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """t-based intervals (``n - p`` df); NaN for a parameter held at its bound (see ``at_bound``)."""
        q, params, bse = self._tcrit(alpha), self.params, self.bse
        return pd.DataFrame({"lower": params - q * bse, "upper": params + q * bse})

    @property
    def sigma(self) -> float:
        """Residual standard deviation, sqrt(RSS / (n - p)) (weighted residuals when weighted)."""
        return float(np.sqrt(self.rss / self.df_resid))

    @property
    def fittedvalues(self) -> pd.Series:
        return pd.Series(self._fitted, index=self.model.endog.index, name="fitted")

    @property
    def resid(self) -> pd.Series:
        """Observed minus fitted (unweighted)."""
        return (self.model.endog - self.fittedvalues).rename("resid")

    # -------------------------------------------------------------------------------------- prediction
    def design_matrix(self, new: Any = None, *, missing: str = "raise") -> pd.DataFrame:
        """The law's design matrix for new data (formula: a frame with the variables; arrays: the exog columns).

        Rows with a missing predictor raise a :class:`DataError` naming them, or are left out with ``missing="drop"``.
        """
        if missing not in MISSING:
            raise ConfigError(f"missing={missing!r} is not accepted (expected 'drop' or 'raise')")
        if new is None:
            return self.model.exog.copy()
        columns = self.model.exog.columns
        if self.model.design_info is not None:
            frame = new.frame() if isinstance(new, Panel) else pd.DataFrame(new)
            try:
                (X,) = patsy.build_design_matrices([self.model.design_info], frame, NA_action="drop",
                                                   return_type="dataframe")
            except patsy.PatsyError as err:
                raise ConfigError(f"cannot build the law's predictors {list(columns)} from new data: {err.message}") from err
            rows = frame.index
        else:
            if isinstance(new, pd.DataFrame):
                unknown = [c for c in columns if c not in new.columns]
                if unknown:
                    raise ConfigError(f"new data lacks the law's predictors {unknown} (expected columns {list(columns)})")
                X = _numeric(new[list(columns)], "new")
            else:
                values = np.atleast_2d(np.asarray(new, float))
                if values.shape[1] != len(columns):
                    raise ConfigError(f"new has {values.shape[1]} columns; the law has {len(columns)} ({list(columns)})")
                X = pd.DataFrame(values, columns=columns)
            rows = X.index
            X = X.dropna()
        lost = rows.difference(X.index, sort=False)
        if len(lost) and missing == "raise":
            raise DataError(f"{len(lost)} rows lack a predictor of the law, e.g. {list(lost[:5])} "
                            "(drop them, or pass missing='drop')")
        return X

    def _gradient(self, X: np.ndarray) -> np.ndarray:
        return sigmoid_law_jacobian(self._theta, X, self.model.limits)

    def predict(self, new: Any = None, *, missing: str = "raise") -> pd.Series:
        """Expected metric for new data (default: the fitted models)."""
        X = self.design_matrix(new, missing=missing)
        return pd.Series(sigmoid_law(self._theta, X.to_numpy(), self.model.limits), index=X.index, name="predicted")

    def get_prediction(self, new: Any = None, *, weights: Any = None, missing: str = "raise") -> LawPrediction:
        """Predictions with delta-method standard errors; ``summary_frame(alpha=)`` gives the intervals.

        ``weights`` of the new rows scale the residual variance of the
        prediction interval (``sigma^2 / weight``); a weighted law without
        them assumes weight 1 and warns, like statsmodels' WLS.
        """
        X = self.design_matrix(new, missing=missing)
        grad = self._gradient(X.to_numpy())
        var_mean = np.einsum("ij,jk,ik->i", grad, self._cov, grad)
        if weights is None:
            w = np.ones(len(X)) if new is not None or self.model.weights is None else self.model.weights
            if new is not None and self.model.weights is not None:
                warnings.warn("the law is weighted but no weights were given for the new rows: the prediction "
                              "interval assumes weight 1", OSLWarning, stacklevel=2)
        else:
            w = _align_weights(weights, X.index, "prediction weights")
        return LawPrediction(
            pd.Series(sigmoid_law(self._theta, X.to_numpy(), self.model.limits), index=X.index, name="mean"),
            pd.Series(np.sqrt(var_mean), index=X.index, name="mean_se"),
            pd.Series(self.sigma**2 / w, index=X.index), self.df_resid,
        )

    def aggregate(self, new: Any = None, *, missing: str = "raise") -> pd.DataFrame:
        """Aggregate capability ``P = beta' x + alpha`` per row (logit units) and its standard error."""
        X = self.design_matrix(new, missing=missing)
        k = X.shape[1]
        values = X.to_numpy()
        cov = self._cov[:k, :k]
        return pd.DataFrame({
            "P": values @ self._theta[:k],
            "P_se": np.sqrt(np.einsum("ij,jk,ik->i", values, cov, values)),
        }, index=X.index)

    def benchmark_weights(self, loadings: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
        """Weights of the law in benchmark space, ``w = gamma beta`` (benchmark x component loadings).

        ``P = beta' S + alpha`` with ``S = gamma' (B - mean B)`` makes ``w`` the
        change of P per unit of each benchmark. Standard errors by the delta
        method with the loadings treated as fixed: the uncertainty of the PCA
        itself is not included (a bootstrap over models includes it).

        Raises
        ------
        ConfigError
            When a predictor of the law is not a column of ``loadings``.
        """
        predictors = [c for c in self.model.exog.columns if c != self.model.intercept]
        loadings = pd.DataFrame(loadings)
        unknown = [c for c in predictors if c not in loadings.columns]
        if unknown:
            raise ConfigError(
                f"the law's predictors {unknown} are not columns of the loadings (columns: {list(loadings.columns)}); "
                "benchmark weights need a law on principal components, e.g. 'target ~ PC1 + PC2 + PC3'"
            )
        L = _numeric(loadings[predictors], "loadings").to_numpy()
        if not np.all(np.isfinite(L)):
            raise DataError("loadings have missing or infinite values")
        idx = [list(self.model.exog.columns).index(c) for c in predictors]
        beta, cov = self._theta[idx], self._cov[np.ix_(idx, idx)]
        weight = L @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, cov, L))
        q = self._tcrit(alpha)
        return pd.DataFrame({"weight": weight, "se": se, "lower": weight - q * se, "upper": weight + q * se},
                            index=loadings.index)

    # -------------------------------------------------------------------------------------- display
    def _what(self) -> str:
        return self.model.formula or f"{self.model.target} ~ {' + '.join(map(str, self.model.exog.columns))}"

    def _n_families(self) -> int | None:
        fam = self.model.families
        return None if fam is None else int(fam.dropna().nunique())

    def summary(self, alpha: float = 0.05) -> Summary:
        ci = self.conf_int(alpha)
        table = pd.DataFrame({
            "coef": self.params, "std err": self.bse, "t": self.tvalues, "P>|t|": self.pvalues,
            f"[{alpha / 2:g}": ci["lower"], f"{1 - alpha / 2:g}]": ci["upper"],
            "note": [f"on its {b} bound" if b else "" for b in self.at_bound],
        })
        limits = self.model.limits
        header = {
            "Target": self.model.target,
            "Law": "y = floor + (ceiling - floor) * sigmoid(x'beta)",
            "Models": self.nobs,
            "Families": self._n_families(),
            "Dropped (missing values)": len(self.model.dropped),
            "Parameters": len(self.params),
            "Df residuals": self.df_resid,
            "RSS": self.rss,
            "Residual std (sigma)": self.sigma,
            "Loss": self.model.loss if self.model.loss == "linear" else f"huber (f_scale={self.model.f_scale:g})",
            "Weighted": self.model.weights is not None,
            "Covariance": self.cov_type,
            "Starts / evaluations": f"{self.optimizer['n_starts']} / {self.optimizer['nfev']}",
        }
        header = {k: v for k, v in header.items() if v is not None}
        notes = [f"{limits.describe(n)}" + (f"; estimated {getattr(self, n):.4g}" if n in limits.estimated else "")
                 for n in ("floor", "ceiling")]
        for name, side in self._at_bound.items():
            notes.append(
                f"{name} ended on its {side} bound ({limits.range(name)[0 if side == 'lower' else 1]:g}): it is held "
                "fixed there for the covariance (no standard error; the others' uncertainty is conditional on it) "
                "but still counted in the residual degrees of freedom"
            )
        if self.model.intercept is None:
            notes.append("The design has no constant column, so the law has no intercept alpha.")
        notes.append(f"Intervals are t-based with {self.df_resid} df; covariance '{self.cov_type}' from the Jacobian "
                     "at the optimum.")
        if self.model.dropped:
            notes.append(f"{len(self.model.dropped)} rows left out for missing values: "
                         f"{', '.join(map(str, self.model.dropped[:8]))}{' ...' if len(self.model.dropped) > 8 else ''}")
        return Summary(f"Sigmoid scaling law: {self._what()}", header, [("Parameters", table)], notes)

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per parameter: term, estimate, std_error, statistic, p_value, conf_low, conf_high, at_bound."""
        ci = self.conf_int(alpha)
        frame = pd.DataFrame({
            "target": self.model.target, "term": self.params.index, "estimate": self.params.to_numpy(),
            "std_error": self.bse.to_numpy(), "statistic": self.tvalues.to_numpy(), "p_value": self.pvalues.to_numpy(),
            "conf_low": ci["lower"].to_numpy(), "conf_high": ci["upper"].to_numpy(),
            "at_bound": self.at_bound.to_numpy(),
        })
        return frame

    def __repr__(self) -> str:
        fam = self._n_families()
        parts = [f"{self.nobs} models" + (f" ({fam} families)" if fam is not None else "")]
        for name in ("floor", "ceiling"):
            if name in self.model.limits.estimated:
                side = self._at_bound.get(name)
                parts.append(f"{name}={getattr(self, name):.3g}" + (f" [{side} bound]" if side else ""))
            else:
                parts.append(f"{name}={getattr(self, name):g} fixed")
        parts.append(f"RSS={self.rss:.4g}")
        return f"<LawResults {self._what()}: {', '.join(parts)}>"


class LawPrediction:
    """Predictions of a law with delta-method standard errors (see :meth:`LawResults.get_prediction`)."""

    def __init__(self, mean: pd.Series, mean_se: pd.Series, var_resid: pd.Series, df: int):
        self.predicted_mean = mean
        self.se_mean = mean_se
        self.var_resid = var_resid
        self.df = df

    @property
    def se_obs(self) -> pd.Series:
        return np.sqrt(self.se_mean**2 + self.var_resid).rename("obs_se")

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Columns ``mean``, ``mean_se``, ``mean_ci_lower/upper``, ``obs_ci_lower/upper`` (t with n - p df)."""
        if not 0 < alpha < 1:
            raise ConfigError(f"alpha={alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")
        q = stats.t.ppf(1 - alpha / 2, self.df)
        m, se, obs = self.predicted_mean, self.se_mean, self.se_obs
        return pd.DataFrame({
            "mean": m, "mean_se": se, "mean_ci_lower": m - q * se, "mean_ci_upper": m + q * se,
            "obs_ci_lower": m - q * obs, "obs_ci_upper": m + q * obs,
        })

    def __repr__(self) -> str:
        return f"<LawPrediction: {len(self.predicted_mean)} rows>"
