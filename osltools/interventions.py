"""Post-training interventions: gap curves over f-equivalent FLOPs, with bootstrap bands and tests.

METHOD.md, "Post-training interventions". For a base metric (GSM8K few-shot)
and one or more interventions (chain-of-thought, CoT + self-consistency), one
sigmoid law per metric is fitted on the same principal capabilities
(imputation and PCA of the panel's models) and placed on the reference
family's compute axis with :func:`~osltools.equivalent.equivalent_flops`:

    y_metric(x) = floor + (ceiling - floor) * sigmoid(w_metric x + b_metric),   x = log10 C-bar

The *gap* of a comparison is the difference of two such curves on a grid of x:
each intervention minus the base, and each later intervention minus each
earlier one (e.g. CoT+SC minus CoT).

Uncertainty comes from ONE nonparametric bootstrap over models on the
resampling engine (:func:`osltools.resampling.bootstrap`): every replicate
refits imputation, PCA, every law and every equivalent-FLOPs line, so the
bands carry all of the pipeline's estimation error. Failed replicates are
counted and reported (never silently dropped).

Reference family. Its models define the axis, and they are usually few
(Llama-2 has 3 in the paper's main set). ``reference_resampling`` says how
they enter the replicates:

* ``"within"`` (default): resampled among themselves (as many draws as there
  are reference models) while the other models are resampled together, so the
  family never vanishes from a replicate and the sampling error of its line
  (its models' own deviations from the family's expected capabilities) is
  carried into the bands;
* ``"pooled"``: resampled with all the other models (the plain bootstrap; the
  number of reference models then varies between replicates);
* ``"fixed"``: kept once in every replicate: bands conditional on the axis
  those very models define.

A replicate with fewer than 2 distinct reference models cannot fit the line:
it fails and is counted (with 3 reference models about 1 in 9 replicates
``"within"``, 3 in 10 ``"pooled"``). The coverage study
(``analyses/interventions_coverage.py``) compares the three.

Read-outs (all from the same replicates):

* pointwise bands: percentile intervals per grid point; simultaneous bands:
  sup-t over the grid (:meth:`~osltools.replicates.Replicates.simultaneous_band`);
* onset: the first grid point from which the lower band stays above 0 up to
  the grid's upper end (pointwise and simultaneous reported separately), plus
  every stretch where it is above 0;
* peak: the grid point where the gap is largest, with a percentile interval
  of the replicates' peak locations;
* growth test: gap(x_high) - gap(x_low) with its percentile interval and
  bootstrap p-value ``min(1, 2 min((1 + #{d* <= 0}) / (B + 1), (1 + #{d* >= 0}) / (B + 1)))``;
* weights ``gamma beta`` of every law in benchmark space with intervals (they
  do not depend on the signs of the components, nor on any rotation within
  the K-dimensional PC space, so no sign alignment is needed);
* per family (families with enough models that have every metric): the
  family's observed gains against the pooled curves' predicted gains at its
  models, with a t test of the mean deviation (see :meth:`GapResults.family_tests`).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit
from statsmodels.stats.multitest import multipletests

from .capabilities import CapabilityPCA, CapabilityResults
from .data import Panel
from .equivalent import EquivalentFlops, equivalent_flops
from .exceptions import ConfigError, FitError, OSLWarning
from .immutable import Sealed
from .law import LawResults, ScalingLaw
from .replicates import Replicates
from .resampling import bootstrap
from .summary import Summary, SummaryMixin
from .validation import LawOptions, pca_inputs, predictor_formula, require_target

__all__ = ["compare_interventions", "GapResults", "DEFAULT_INTERVENTIONS", "DEFAULT_LAW", "BASE_LABEL"]

#: The paper's interventions on GSM8K (flexible-extract columns of the post-training data).
DEFAULT_INTERVENTIONS: Mapping[str, str] = MappingProxyType({"CoT": "gsm8k_cot", "CoT+SC": "gsm8k_cot_sc"})
#: The paper's post-training fits: floor form, Huber loss.
DEFAULT_LAW = LawOptions(bounds="floor", loss="huber")
#: Label of the base metric in curves and comparisons.
BASE_LABEL = "base"
#: Points of the default grid of log10 C-bar.
DEFAULT_GRID_POINTS = 50
#: Default growth-test points: these quantiles of the models' log10 C-bar under the base law.
GROWTH_QUANTILES = (0.25, 0.75)
X_NAME = "log10_flops_equivalent"
#: How the reference family's models enter the bootstrap replicates (see the module notes).
REFERENCE_RESAMPLING = MappingProxyType({
    "within": "resampled among themselves, the other models together",
    "pooled": "resampled together with all the other models",
    "fixed": "kept once in every replicate, the other models resampled",
})


# ---------------------------------------------------------------------------------------------- the pipeline
@dataclass(frozen=True)
class _Fit:
    """One fit of the whole pipeline: capabilities, one law and one equivalent-FLOPs line per metric."""

    capabilities: CapabilityResults
    laws: dict[str, LawResults]
    equivalents: dict[str, EquivalentFlops]


@dataclass(frozen=True)
class _Spec:
    """What is fitted: metrics (label -> column, base first), comparisons, PCA and law settings."""

    metrics: tuple[tuple[str, str], ...]
    comparisons: tuple[tuple[str, str, str], ...]  # (name, minuend label, subtrahend label)
    n_components: int
    law: LawOptions
    reference_family: str
    exclude_from_pca: tuple[str, ...]

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.metrics]

    @property
    def comparison_names(self) -> list[str]:
        return [name for name, _, _ in self.comparisons]

    def fit(self, panel: Panel, *, formulas: bool = True) -> _Fit:
        """Imputation, PCA, one law and one equivalent-FLOPs line per metric.

        ``formulas=False`` (bootstrap replicates) fits every law through the
        array entry point on a design built once, ``[Intercept, PC1..PCK]``,
        the same numbers the formula ``target ~ PC1 + ... + PCK`` gives, without
        parsing the formula three times per replicate; the full-data fit uses
        the formulas, so its laws predict from frames with PC columns.
        """
        capabilities = CapabilityPCA(n_components=self.n_components).fit(pca_inputs(panel, self.exclude_from_pca))
        frame = capabilities.frame()
        design = None if formulas else with_intercept(capabilities.scores)
        if design is not None:
            frame = frame.assign(Intercept=1.0)
        laws, equivalents = {}, {}
        for label, column in self.metrics:
            if design is None:
                laws[label] = self.law.fit(predictor_formula(column, f"pcs:{self.n_components}"), frame)
            else:
                law = ScalingLaw(frame[column], design, bounds=self.law.bounds, floor=self.law.floor,
                                 ceiling=self.law.ceiling, loss=self.law.loss, f_scale=self.law.f_scale)
                laws[label] = law.fit(cov_type=self.law.cov_type)
            equivalents[label] = equivalent_flops(laws[label], frame, reference_family=self.reference_family)
        return _Fit(capabilities, laws, equivalents)


def with_intercept(scores: pd.DataFrame) -> pd.DataFrame:
    """The laws' design ``[Intercept, PC1..PCK]`` (column names as patsy gives them)."""
    return pd.concat([pd.Series(1.0, index=scores.index, name="Intercept"), scores], axis=1)


def curve_values(equivalent: EquivalentFlops, x: np.ndarray) -> np.ndarray:
    """The law as a function of log10 C-bar, ``floor + (ceiling - floor) * sigmoid(w x + b)``.

    The mean column of :meth:`EquivalentFlops.curve` without its delta-method
    bands (which every bootstrap replicate would otherwise pay for).
    """
    w, b = equivalent.params.to_numpy()
    law = equivalent.law
    return law.floor + (law.ceiling - law.floor) * expit(w * np.asarray(x, float) + b)


def predicted_metrics(fit: _Fit, models: Panel) -> pd.DataFrame:
    """Each law's mean (model x metric label) at models completed and projected with this fit's PCA.

    ``floor + (ceiling - floor) * sigmoid(X beta)`` on one design for all
    laws (what :meth:`LawResults.predict` gives, without a patsy pass per law).
    """
    design = with_intercept(fit.capabilities.transform(models))
    X = design.to_numpy()
    out = {}
    for label, law in fit.laws.items():
        beta = law.params.reindex(design.columns).to_numpy()
        out[label] = law.floor + (law.ceiling - law.floor) * expit(X @ beta)
    return pd.DataFrame(out, index=design.index)


class _GapPipeline:
    """A bootstrap replicate: rebuild the panel (fixed reference models + resampled others), refit, read out.

    Returns one labelled Series (quantity, name, point): the curves and gaps
    on the grid, the gaps at the two growth points and their difference, the
    benchmark weights of every law, and each family's mean predicted gain at
    its own (original) models.
    """

    def __init__(self, spec: _Spec, panel: Panel, *, grid: np.ndarray, growth_points: np.ndarray,
                 reference_positions: np.ndarray, reference_resampling: str, family_panel: Panel | None,
                 family_of: pd.Series):
        self.spec = spec
        self.panel = panel
        self.grid = grid
        self.growth_points = growth_points
        self.reference_positions = reference_positions
        self.reference_resampling = reference_resampling
        self.family_panel = family_panel
        self.family_of = family_of  # model -> family, for the family view's models
        self._index: pd.MultiIndex | None = None

    def rebuild(self, others: Panel, rng: np.random.Generator) -> Panel:
        """The replicate's panel: the reference models (drawn among themselves, kept, or, when pooled,
        among the models the engine drew) and the other models as the engine drew them, in panel order.

        The engine's full-panel call (its point estimate) passes the other
        models unresampled, without the ``source_model`` column every resample
        has: the reference models are then kept too, so the estimate is the
        fit on the panel itself.
        """
        meta = others.meta
        reference = self.reference_positions
        if "source_model" in meta:
            drawn = self.panel.models.get_indexer(meta["source_model"].to_numpy())
            if self.reference_resampling == "within":
                reference = reference[rng.integers(0, len(reference), size=len(reference))]
        else:
            drawn = self.panel.models.get_indexer(others.models)
        return self.panel.resample(np.sort(np.concatenate([reference, drawn])))

    def __call__(self, others: Panel, rng: np.random.Generator) -> pd.Series:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OSLWarning)  # reported once, by the full-data fit
            fit = self.spec.fit(self.rebuild(others, rng), formulas=False)
        return self.read_out(fit)

    def read_out(self, fit: _Fit) -> pd.Series:
        x = np.concatenate([self.grid, self.growth_points])
        n = len(self.grid)
        curves = {label: curve_values(fit.equivalents[label], x) for label in self.spec.labels}
        parts = [curves[label][:n] for label in self.spec.labels]
        growth = []
        for _, a, b in self.spec.comparisons:
            gap = curves[a] - curves[b]
            parts.append(gap[:n])
            growth.append([gap[n], gap[n + 1], gap[n + 1] - gap[n]])
        parts += [np.asarray(growth).ravel()]
        loadings = fit.capabilities.loadings
        parts += [fit.laws[label].benchmark_weights(loadings)["weight"].to_numpy() for label in self.spec.labels]
        parts.append(self._family_gains(fit))
        values = np.concatenate(parts)
        return pd.Series(values, index=self.index(loadings.index))

    def _family_gains(self, fit: _Fit) -> np.ndarray:
        if self.family_panel is None:
            return np.empty(0)
        predicted = predicted_metrics(fit, self.family_panel)
        families = self.family_of.reindex(predicted.index)
        means = [(predicted[a] - predicted[b]).groupby(families, sort=False).mean() for _, a, b in self.spec.comparisons]
        return np.concatenate([m.reindex(self._families).to_numpy() for m in means])

    @cached_property
    def _families(self) -> list[str]:
        return list(dict.fromkeys(self.family_of))

    def index(self, benchmarks: pd.Index) -> pd.MultiIndex:
        """The labels of :meth:`read_out` (built once; identical for every replicate)."""
        if self._index is None:
            points = range(len(self.grid))
            labels = [("curve", m, j) for m in self.spec.labels for j in points]
            labels += [("gap", c, j) for c in self.spec.comparison_names for j in points]
            labels += [("growth", c, t) for c in self.spec.comparison_names for t in ("low", "high", "difference")]
            labels += [("weight", m, str(b)) for m in self.spec.labels for b in benchmarks]
            labels += [("family", c, f) for c in self.spec.comparison_names for f in self._families]
            self._index = pd.MultiIndex.from_tuples(labels, names=["quantity", "name", "point"])
        return self._index


# ---------------------------------------------------------------------------------------------- read-outs
def bootstrap_test(estimate: float, draws: np.ndarray, alpha: float) -> dict[str, float]:
    """Estimate, bootstrap SE, percentile interval and two-sided bootstrap p-value of ``H0: value = 0``.

    ``p = min(1, 2 min((1 + #{d <= 0}) / (B + 1), (1 + #{d >= 0}) / (B + 1)))``: the
    percentile interval excludes 0 about when ``p < alpha``; the ``+ 1`` keeps
    ``p`` above 0 (it cannot be smaller than about ``2 / B``).
    """
    draws = np.asarray(draws, float)
    draws = draws[np.isfinite(draws)]
    n = len(draws)
    if n < 2:
        raise FitError(f"a bootstrap test needs at least 2 replicates with a value; {n} have one")
    below, above = np.sum(draws <= 0), np.sum(draws >= 0)
    p = min(1.0, 2 * min((1 + below) / (n + 1), (1 + above) / (n + 1)))
    lower, upper = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return {"estimate": float(estimate), "se": float(draws.std(ddof=1)), "lower": float(lower),
            "upper": float(upper), "p_value": float(p), "n_replicates": n}


def significant_from(grid: np.ndarray, lower: np.ndarray) -> float:
    """The first grid point from which ``lower`` stays above 0 up to the grid's end (NaN if it ends at or below 0)."""
    above = np.asarray(lower) > 0
    if not above[-1]:
        return np.nan
    not_above = np.flatnonzero(~above)
    return float(grid[not_above[-1] + 1 if len(not_above) else 0])


def positive_regions(grid: np.ndarray, lower: np.ndarray) -> list[tuple[float, float]]:
    """Every stretch of consecutive grid points where ``lower`` is above 0, as (first x, last x)."""
    above = np.concatenate([[False], np.asarray(lower) > 0, [False]])
    starts = np.flatnonzero(~above[:-1] & above[1:])
    ends = np.flatnonzero(above[:-1] & ~above[1:]) - 1
    return [(float(grid[s]), float(grid[e])) for s, e in zip(starts, ends)]


def _regions_text(regions: list[tuple[float, float]]) -> str:
    return "; ".join(f"[{a:.3f}, {b:.3f}]" for a, b in regions) or "none"


def peak(grid: np.ndarray, estimate: np.ndarray, draws: np.ndarray, alpha: float) -> dict[str, float]:
    """Where a gap is largest on the grid, with a percentile interval of the replicates' peak locations.

    ``draws``: replicates x grid points. Also the share of replicates whose
    peak sits on the grid's first or last point (a peak at an end means the
    gap still rises, or falls, there: no interior maximum).
    """
    draws = np.asarray(draws, float)
    draws = draws[np.isfinite(draws).all(axis=1)]
    at = int(np.argmax(estimate))
    locations = grid[np.argmax(draws, axis=1)]
    lower, upper = np.quantile(locations, [alpha / 2, 1 - alpha / 2])
    last = len(grid) - 1
    return {"peak_at": float(grid[at]), "gap_at_peak": float(estimate[at]), "lower": float(lower),
            "upper": float(upper), "share_at_lower_end": float(np.mean(locations == grid[0])),
            "share_at_upper_end": float(np.mean(locations == grid[last])),
            "at_grid_end": at in (0, last)}


def family_tests(per_model: pd.DataFrame, curve_draws: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Per (comparison, family): does the family's mean gain differ from the pooled curves' prediction?

    ``per_model``: rows with comparison, family, deviation (observed minus
    predicted gain), observed, predicted. ``curve_draws``: replicates x
    (comparison, family) of the mean predicted gain at the family's models.

    Test: ``t = mean deviation / se`` with ``se^2 = s^2 / n + v``, ``s`` the
    sd of the family's deviations (ddof=1), ``v`` the bootstrap variance of
    the pooled curves' mean predicted gain at the family's models; df by
    Welch-Satterthwaite treating ``v`` as known, ``(s^2/n + v)^2 / ((s^2/n)^2 / (n - 1))``.
    Holm's adjustment across the families of each comparison.
    """
    rows = []
    for (comparison, family), block in per_model.groupby(["comparison", "family"], sort=False):
        n = len(block)
        d = block["deviation"].to_numpy()
        within = d.var(ddof=1) / n
        curve = float(np.nanvar(curve_draws[(comparison, family)].to_numpy(), ddof=1))
        se = np.sqrt(within + curve)
        df = (within + curve) ** 2 / (within**2 / (n - 1)) if within > 0 else np.inf
        mean = d.mean()
        t = mean / se if se > 0 else np.nan
        q = stats.t.ppf(1 - alpha / 2, df)
        rows.append({"comparison": comparison, "family": family, "n_models": n,
                     "observed_gain": block["observed"].mean(), "predicted_gain": block["predicted"].mean(),
                     "deviation": mean, "sd": np.sqrt(within * n), "se_within": np.sqrt(within),
                     "se_curve": np.sqrt(curve), "se": se, "df": df, "t": t,
                     "p_value": float(2 * stats.t.sf(abs(t), df)), "lower": mean - q * se, "upper": mean + q * se})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = table.groupby("comparison", sort=False)["p_value"].transform(
        lambda p: multipletests(p.to_numpy(), method="holm")[1])
    return table.set_index(["comparison", "family"])


# ---------------------------------------------------------------------------------------------- results
class GapResults(Sealed, SummaryMixin):
    """Gap curves of interventions over reference-family-equivalent FLOPs (see :func:`compare_interventions`).

    Immutable. ``params`` are, per comparison, the gap at the two growth
    points (``gap_low``, ``gap_high``) and their difference (``growth``);
    ``bse`` and ``conf_int`` are bootstrap SEs and percentile intervals.
    """

    def __init__(self, *, spec: _Spec, panel: Panel, fit: _Fit, grid: np.ndarray, growth_points: np.ndarray,
                 replicates: Replicates, per_model: pd.DataFrame, alpha: float, reference_resampling: str,
                 min_family_models: int, fit_warnings: tuple[str, ...]):
        self._spec = spec
        self._fit = fit
        self.panel = panel
        self.capabilities = fit.capabilities
        self.laws = MappingProxyType(dict(fit.laws))
        self.equivalents = MappingProxyType(dict(fit.equivalents))
        self._grid = np.array(grid, float)
        self._growth_points = np.array(growth_points, float)
        self.replicates = replicates
        self._table = replicates.table  # successful replicates x estimates (read-only here)
        self._point = replicates.estimate
        self._per_model = per_model
        self.alpha = alpha
        self.reference_resampling = reference_resampling
        self.min_family_models = min_family_models
        self.fit_warnings = fit_warnings
        self._seal()

    # ------------------------------------------------------------------ what was compared
    @property
    def metrics(self) -> dict[str, str]:
        """Metric label -> target column (the base first)."""
        return dict(self._spec.metrics)

    @property
    def comparisons(self) -> pd.DataFrame:
        """One row per gap: its name, the metric it is taken from (minuend) and the one subtracted."""
        rows = [(n, a, b) for n, a, b in self._spec.comparisons]
        return pd.DataFrame(rows, columns=["comparison", "minuend", "subtrahend"]).set_index("comparison")

    @property
    def reference_family(self) -> str:
        return self._spec.reference_family

    @property
    def grid(self) -> pd.Index:
        return pd.Index(self._grid, name=X_NAME)

    @property
    def growth_points(self) -> pd.Series:
        return pd.Series(self._growth_points, index=["low", "high"], name=X_NAME)

    @property
    def reference_range(self) -> tuple[float, float]:
        """log10 FLOPs spanned by the reference family's models (outside it the line is extrapolated)."""
        log_c = self.panel.meta["log10_flops"]
        ref = log_c[(self.panel.meta["family"] == self.reference_family).to_numpy()].dropna()
        return float(ref.min()), float(ref.max())

    # ------------------------------------------------------------------ bands
    def _columns(self, quantity: str, name: str) -> list[tuple]:
        return [(quantity, name, j) for j in range(len(self._grid))]

    def _draws(self, columns: Sequence[Hashable]) -> pd.DataFrame:
        return self._table[list(columns)]

    def _estimate(self, columns: Sequence[Hashable]) -> np.ndarray:
        return self._point.reindex(list(columns)).to_numpy()

    def band(self, name: str, alpha: float | None = None) -> pd.DataFrame:
        """One curve (metric label) or gap (comparison name) on the grid: estimate, se, pointwise and
        simultaneous (sup-t) bounds, indexed by log10 C-bar."""
        alpha = self._alpha(alpha)
        quantity = "curve" if name in self._spec.labels else "gap" if name in self._spec.comparison_names else None
        if quantity is None:
            raise ConfigError(f"name={name!r} is neither a metric ({', '.join(self._spec.labels)}) nor a comparison "
                              f"({', '.join(self._spec.comparison_names)})")
        columns = self._columns(quantity, name)
        reps = self.replicates
        draws = self._draws(columns)
        lower, upper = draws.quantile(alpha / 2).to_numpy(), draws.quantile(1 - alpha / 2).to_numpy()
        simultaneous = reps.simultaneous_band(columns, alpha)
        lo, hi = self.reference_range
        out = pd.DataFrame({
            "estimate": self._estimate(columns), "se": draws.std(ddof=1).to_numpy(), "lower": lower, "upper": upper,
            "simultaneous_lower": simultaneous["lower"].to_numpy(), "simultaneous_upper": simultaneous["upper"].to_numpy(),
            "within_reference": (self._grid >= lo) & (self._grid <= hi),
        }, index=self.grid)
        out.attrs.update(critical_value=simultaneous.attrs["critical_value"], alpha=alpha)
        return out

    @staticmethod
    def _block(values: pd.Series | pd.DataFrame, quantity: str, name: str) -> pd.Series | pd.DataFrame:
        """The rows of one (quantity, name), indexed by point."""
        index = values.index
        keep = (index.get_level_values("quantity") == quantity) & (index.get_level_values("name") == name)
        out = values[keep]
        out.index = index[keep].get_level_values("point")
        return out

    def _alpha(self, alpha: float | None) -> float:
        alpha = self.alpha if alpha is None else alpha
        if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not 0 < alpha < 1:
            raise ConfigError(f"alpha={alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")
        return float(alpha)

    # ------------------------------------------------------------------ read-outs
    def onsets(self, alpha: float | None = None) -> pd.DataFrame:
        """Per comparison: where the gap becomes significantly positive, by the pointwise and by the
        simultaneous lower band (first grid point from which the band stays above 0 to the grid's end;
        NaN when it does not end above 0), and every stretch where each band is above 0."""
        alpha = self._alpha(alpha)
        rows = []
        for name in self._spec.comparison_names:
            band = self.band(name, alpha)
            rows.append({
                "comparison": name,
                "pointwise_from": significant_from(self._grid, band["lower"].to_numpy()),
                "simultaneous_from": significant_from(self._grid, band["simultaneous_lower"].to_numpy()),
                "pointwise_positive": _regions_text(positive_regions(self._grid, band["lower"].to_numpy())),
                "simultaneous_positive": _regions_text(positive_regions(self._grid, band["simultaneous_lower"].to_numpy())),
            })
        return pd.DataFrame(rows).set_index("comparison")

    def peaks(self, alpha: float | None = None) -> pd.DataFrame:
        """Per comparison: the grid point where the gap is largest, the gap there, a percentile interval
        of the replicates' peak locations and how often their peak sits on an end of the grid."""
        alpha = self._alpha(alpha)
        rows = []
        for name in self._spec.comparison_names:
            columns = self._columns("gap", name)
            rows.append({"comparison": name} | peak(self._grid, self._estimate(columns),
                                                    self._draws(columns).to_numpy(), alpha))
        return pd.DataFrame(rows).set_index("comparison")

    def growth_tests(self, alpha: float | None = None) -> pd.DataFrame:
        """Per comparison: does the gain grow with scale? gap(x_high) - gap(x_low) with its percentile
        interval and bootstrap p-value (the growth points are :attr:`growth_points`)."""
        alpha = self._alpha(alpha)
        rows = []
        for name in self._spec.comparison_names:
            low, high, diff = (("growth", name, t) for t in ("low", "high", "difference"))
            test = bootstrap_test(self._estimate([diff])[0], self._draws([diff]).iloc[:, 0].to_numpy(), alpha)
            rows.append({"comparison": name, "x_low": self._growth_points[0], "x_high": self._growth_points[1],
                         "gap_low": self._estimate([low])[0], "gap_high": self._estimate([high])[0],
                         "growth": test.pop("estimate")} | test)
        return pd.DataFrame(rows).set_index("comparison")

    def growth_contrast(self, first: str, second: str, alpha: float | None = None) -> pd.Series:
        """Does ``first``'s gap grow more than ``second``'s? Difference of their growths, with its
        percentile interval and bootstrap p-value (from the same replicates)."""
        alpha = self._alpha(alpha)
        for name in (first, second):
            if name not in self._spec.comparison_names:
                raise ConfigError(f"comparison {name!r} is not one of {', '.join(self._spec.comparison_names)}")
        a, b = ("growth", first, "difference"), ("growth", second, "difference")
        estimate = self._estimate([a])[0] - self._estimate([b])[0]
        draws = self._draws([a]).iloc[:, 0].to_numpy() - self._draws([b]).iloc[:, 0].to_numpy()
        return pd.Series(bootstrap_test(estimate, draws, alpha), name=f"growth({first}) - growth({second})")

    def benchmark_weights(self, alpha: float | None = None) -> pd.DataFrame:
        """Weights ``gamma beta`` of every law in benchmark space (change of the law's logit per unit of the
        benchmark score), and their differences for every comparison, with bootstrap SEs and percentile
        intervals. Rows (name, benchmark); name is a metric label or a comparison."""
        alpha = self._alpha(alpha)
        table, estimate = self._table, self._point
        weights = {m: (self._block(estimate, "weight", m), self._block(table.T, "weight", m).T) for m in self._spec.labels}
        for name, a, b in self._spec.comparisons:
            weights[name] = (weights[a][0] - weights[b][0], weights[a][1] - weights[b][1])
        rows = []
        for name, (point, draws) in weights.items():
            lower, upper = draws.quantile(alpha / 2), draws.quantile(1 - alpha / 2)
            for benchmark in point.index:
                rows.append({"name": name, "benchmark": benchmark, "weight": point[benchmark],
                             "se": draws[benchmark].std(ddof=1), "lower": lower[benchmark],
                             "upper": upper[benchmark]})
        return pd.DataFrame(rows).set_index(["name", "benchmark"])

    def predict(self, panel: Panel | None = None) -> pd.DataFrame:
        """Every law's expected metric (model x metric label) at models completed and projected with this
        fit's imputation and PCA (default: the panel's models)."""
        models = self.panel if panel is None else panel
        if not isinstance(models, Panel):
            raise ConfigError(f"panel must be an osltools Panel, got {type(models).__name__}")
        return predicted_metrics(self._fit, pca_inputs(models, self._spec.exclude_from_pca))

    # ------------------------------------------------------------------ families
    def family_gains(self) -> pd.DataFrame:
        """Per comparison and model of the family view: observed gain, the pooled curves' predicted
        gain at the model, and the deviation (observed minus predicted)."""
        return self._per_model.copy()

    def family_tests(self, alpha: float | None = None) -> pd.DataFrame:
        """Per comparison and family (with at least ``min_family_models`` models having every metric): does
        the family's mean gain differ from the pooled curves' prediction at its models?

        t test of the mean deviation with ``se^2 = s^2 / n + v`` (within-family
        scatter plus the bootstrap variance ``v`` of the pooled prediction),
        Welch-Satterthwaite df, Holm-adjusted p-values (``p_holm``) across the
        families of each comparison. The pooled curves are fitted with the
        family's own models, which makes the test slightly conservative.
        """
        alpha = self._alpha(alpha)
        if self._per_model.empty:
            return family_tests(self._per_model, pd.DataFrame(), alpha)
        draws = self._table.xs("family", axis=1, level="quantity")
        return family_tests(self._per_model, draws, alpha)

    # ------------------------------------------------------------------ contract
    @property
    def params(self) -> pd.Series:
        """Per comparison: ``gap_low``, ``gap_high`` (the gap at the growth points) and ``growth`` (their difference)."""
        return self._param_frame(self._point).rename("params")

    def _param_frame(self, values: pd.Series) -> pd.Series:
        terms = {"low": "gap_low", "high": "gap_high", "difference": "growth"}
        keys = [("growth", c, t) for c in self._spec.comparison_names for t in terms]
        out = values.reindex(keys)
        out.index = pd.MultiIndex.from_tuples([(c, terms[t]) for _, c, t in keys], names=["comparison", "term"])
        return out

    @property
    def bse(self) -> pd.Series:
        return self._param_frame(self.replicates.se()).rename("bse")

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Percentile bootstrap intervals (``lower``/``upper``) of :attr:`params`."""
        ci = self.replicates.conf_int(self._alpha(alpha))
        return pd.DataFrame({"lower": self._param_frame(ci["lower"]), "upper": self._param_frame(ci["upper"])})

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        """One row per curve or gap and grid point: kind (``curve``/``gap``), name, log10 C-bar, estimate,
        se, pointwise and simultaneous bounds, whether the point lies within the reference family's compute."""
        alpha = self._alpha(alpha)
        frames = []
        for kind, names in (("curve", self._spec.labels), ("gap", self._spec.comparison_names)):
            for name in names:
                frames.append(self.band(name, alpha).reset_index().assign(kind=kind, name=name))
        out = pd.concat(frames, ignore_index=True)
        first = ["kind", "name", X_NAME]
        return out[first + [c for c in out.columns if c not in first]]

    def summary(self, alpha: float | None = None) -> Summary:
        alpha = self._alpha(alpha)
        reps = self.replicates
        lo, hi = self.reference_range
        header = {
            "Metrics": ", ".join(f"{m} = {c} ({self.laws[m].nobs} models)" for m, c in self._spec.metrics),
            "Models": self.panel.n_models,
            "Families": len(self.panel.families),
            "Capabilities": f"{self._spec.n_components} PCs of {', '.join(self.capabilities.panel.benchmarks)}",
            "Law": self._spec.law.describe(),
            "Reference family": f"{self.reference_family} ({', '.join(self.equivalents[self._spec.labels[0]].reference_models)})",
            "Reference log10 FLOPs": f"[{lo:.3f}, {hi:.3f}]",
            "Grid (log10 C-bar)": f"{len(self._grid)} points in [{self._grid[0]:.3f}, {self._grid[-1]:.3f}]",
            "Growth points (log10 C-bar)": f"{self._growth_points[0]:.3f}, {self._growth_points[1]:.3f}",
            "Bootstrap": f"{reps.n_requested} requested, {reps.n_succeeded} succeeded, {reps.n_failed} failed",
            "Reference models in replicates": REFERENCE_RESAMPLING[self.reference_resampling],
            "Seed entropy": str(reps.entropy),
        }
        growth = self.growth_tests(alpha)
        shown = growth.drop(columns=["x_low", "x_high"])
        tables = [(f"Growth of the gap from x = {self._growth_points[0]:.3f} to {self._growth_points[1]:.3f}", shown),
                  ("Where the gap is significantly positive", self.onsets(alpha)),
                  ("Peak of the gap", self.peaks(alpha))]
        if len(self._spec.comparisons) > 1:
            contrasts = [self.growth_contrast(a, b, alpha) for a, b in combinations(self._spec.comparison_names, 2)]
            tables.append(("Contrasts of growth", pd.DataFrame(contrasts)))
        tables.append(("Gaps on the grid (every 5th point)", self._gap_overview(alpha)))
        weights = self.benchmark_weights(alpha)["weight"].unstack("name")
        tables.append(("Weights in benchmark space (gamma beta)", weights[self._spec.labels + self._spec.comparison_names]))
        families = self.family_tests(alpha)
        if not families.empty:
            tables.append(("Families against the pooled curves", families[
                ["n_models", "observed_gain", "predicted_gain", "deviation", "se", "df", "p_value", "p_holm"]]))
        notes = [
            f"Each metric has its own law on the same {self._spec.n_components} PCs, placed on {self.reference_family}-"
            "equivalent FLOPs by its own line P = w log10 C + b; a gap is the difference of two such curves.",
            f"Bands: {1 - alpha:.0%} percentile intervals per grid point (lower/upper) and sup-t simultaneous bands "
            f"over the grid, from one bootstrap over models that refits imputation, PCA, every law and every line "
            f"({reps.n_succeeded} replicates).",
            "Onset: the first grid point from which the lower band stays above 0 up to the grid's end (pointwise "
            "and simultaneous separately); '*_positive' lists every stretch above 0.",
            "Growth: gap(x_high) - gap(x_low); p-value: two-sided bootstrap, min(1, 2 min((1 + #{d*<=0}) / (B + 1), "
            "(1 + #{d*>=0}) / (B + 1))).",
            f"Grid points outside {self.reference_family}'s compute [{lo:.3f}, {hi:.3f}] extrapolate its line "
            "(tidy(): within_reference).",
            "Weights gamma beta do not depend on the components' signs (or any rotation of the PC space).",
        ]
        if families.empty:
            notes.append(f"No family has {self.min_family_models} or more models with every metric: no family view.")
        else:
            notes.append("Families: t test of the mean deviation (observed minus pooled predicted gain), se^2 = "
                         "within-family s^2/n + bootstrap variance of the pooled prediction, Welch-Satterthwaite df; "
                         "p_holm: Holm across the families of each comparison.")
        notes.append(f"{self.reference_family} models in the replicates: "
                     f"{REFERENCE_RESAMPLING[self.reference_resampling]}; a replicate with fewer than 2 distinct "
                     f"{self.reference_family} models cannot fit the line and fails.")
        if reps.n_failed:
            counts = reps.failures.groupby("error").size()
            notes.append(f"{reps.n_failed} replicates failed and are left out: "
                         + ", ".join(f"{e} ({n})" for e, n in counts.items()))
        notes += [f"Full-data fit: {w}" for w in self.fit_warnings]
        return Summary("Post-training interventions: gap curves over equivalent FLOPs", header, tables, notes)

    def _gap_overview(self, alpha: float) -> pd.DataFrame:
        frames = []
        for name in self._spec.comparison_names:
            band = self.band(name, alpha)
            frames.append(band.iloc[::5].drop(columns=["se"]).assign(comparison=name))
        return pd.concat(frames).reset_index().set_index(["comparison", X_NAME])

    def __repr__(self) -> str:
        reps = self.replicates
        names = ", ".join(self._spec.comparison_names)
        return (f"<GapResults {names} on {self.reference_family}-equivalent FLOPs: {self.panel.n_models} models "
                f"({len(self.panel.families)} families), {len(self._grid)} grid points, "
                f"{reps.n_succeeded}/{reps.n_requested} bootstrap replicates>")


# ---------------------------------------------------------------------------------------------- entry point
def _check_metrics(panel: Panel, base: str, interventions: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(interventions, Mapping) or not interventions:
        raise ConfigError(f"interventions={interventions!r} is not accepted (expected a non-empty mapping "
                          "label -> target column, e.g. {'CoT': 'gsm8k_cot'})")
    require_target(panel, base)
    seen = {base: BASE_LABEL}
    for label, column in interventions.items():
        if not isinstance(label, str) or not label or label == BASE_LABEL:
            raise ConfigError(f"intervention label {label!r} is not accepted (expected a non-empty string other "
                              f"than {BASE_LABEL!r}, which names the base metric)")
        require_target(panel, column)
        if column in seen:
            what = "the base column" if column == base else f"also the column of intervention {seen[column]!r}"
            raise ConfigError(f"intervention {label!r} = {column!r} is {what}: every intervention needs its own "
                              "target column, different from base")
        seen[column] = label
    return ((BASE_LABEL, base), *interventions.items())


def _comparisons(labels: list[str]) -> tuple[tuple[str, str, str], ...]:
    """Each intervention minus the base, then each later intervention minus each earlier one."""
    interventions = labels[1:]
    pairs = [(i, BASE_LABEL) for i in interventions] + [(b, a) for a, b in combinations(interventions, 2)]
    return tuple((f"{a} - {b}", a, b) for a, b in pairs)


def _check_reference(panel: Panel, reference_family: str) -> np.ndarray:
    families = sorted(map(str, panel.families))
    if reference_family not in families:
        raise ConfigError(f"reference_family={reference_family!r} is not in the panel (families: {', '.join(families)})")
    positions = np.flatnonzero((panel.meta["family"] == reference_family).to_numpy())
    if len(positions) == panel.n_models:
        raise ConfigError(f"every model of the panel is in the reference family {reference_family!r}: the gap curves "
                          "need models of other families too")
    return positions


def _grid(grid: object, fit: _Fit, spec: _Spec) -> np.ndarray:
    if grid is None or (isinstance(grid, numbers.Integral) and not isinstance(grid, bool)):
        n = DEFAULT_GRID_POINTS if grid is None else int(grid)
        if n < 2:
            raise ConfigError(f"grid={grid!r} is not accepted (expected at least 2 points)")
        mapped = [eq.per_model()[X_NAME].reindex(fit.laws[m].model.endog.index) for m, eq in fit.equivalents.items()]
        values = pd.concat(mapped)
        return np.linspace(values.min(), values.max(), n)
    try:
        values = np.asarray(grid, dtype=float)
    except (TypeError, ValueError):
        values = np.array([np.nan])
    if values.ndim != 1 or len(values) < 2 or not np.all(np.isfinite(values)) or np.any(np.diff(values) <= 0):
        raise ConfigError(f"grid={grid!r} is not accepted (expected None, a number of points >= 2, or >= 2 "
                          "increasing finite log10 C-bar values)")
    return values


def _growth_points(points: object, fit: _Fit, spec: _Spec, complete: pd.Index) -> np.ndarray:
    if points is None:
        base = fit.equivalents[BASE_LABEL].per_model()[X_NAME].reindex(complete)
        return np.quantile(base.to_numpy(), GROWTH_QUANTILES)
    try:
        values = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        values = np.array([np.nan])
    if values.shape != (2,) or not np.all(np.isfinite(values)) or values[0] >= values[1]:
        raise ConfigError(f"growth_points={points!r} is not accepted (expected two log10 C-bar values, low < high, "
                          "e.g. (22.0, 23.5))")
    return values


def _family_view(panel: Panel, spec: _Spec, complete: pd.Index, min_family_models: int) -> pd.Series:
    """Model -> family for the families with at least ``min_family_models`` models having every metric."""
    families = panel.meta["family"].reindex(complete)
    counts = families.value_counts()
    kept = families[families.isin(counts.index[counts >= min_family_models]).to_numpy()]
    return kept.rename("family")


def _per_model(panel: Panel, spec: _Spec, fit: _Fit, family_of: pd.Series, family_panel: Panel | None) -> pd.DataFrame:
    columns = ["comparison", "family", "model", "observed", "predicted", "deviation"]
    if family_panel is None:
        return pd.DataFrame(columns=columns)
    predicted = predicted_metrics(fit, family_panel)
    observed = panel.targets.loc[family_of.index, [c for _, c in spec.metrics]]
    observed.columns = spec.labels
    frames = []
    for name, a, b in spec.comparisons:
        obs, pred = observed[a] - observed[b], predicted[a] - predicted[b]
        frames.append(pd.DataFrame({"comparison": name, "family": family_of, "model": family_of.index,
                                    "observed": obs, "predicted": pred, "deviation": obs - pred}))
    return pd.concat(frames, ignore_index=True)[columns]


def _check_options(n_boot: object, alpha: object, min_family_models: object, law: object,
                   reference_resampling: object) -> None:
    if not isinstance(n_boot, numbers.Integral) or isinstance(n_boot, bool) or n_boot < 2:
        raise ConfigError(f"n_boot={n_boot!r} is not accepted (expected an integer >= 2; 1000 for reporting)")
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")
    if not isinstance(min_family_models, numbers.Integral) or isinstance(min_family_models, bool) \
            or min_family_models < 2:
        raise ConfigError(f"min_family_models={min_family_models!r} is not accepted (expected an integer >= 2: a "
                          "family's test needs a within-family spread)")
    if reference_resampling not in REFERENCE_RESAMPLING:
        raise ConfigError(f"reference_resampling={reference_resampling!r} is not accepted (expected one of "
                          f"{', '.join(map(repr, REFERENCE_RESAMPLING))})")
    if not isinstance(law, LawOptions):
        raise ConfigError(f"law={law!r} is not accepted (expected osltools.validation.LawOptions, e.g. "
                          "LawOptions(bounds='floor', loss='huber'))")


def compare_interventions(
    panel: Panel,
    *,
    base: str = "gsm8k_5",
    interventions: Mapping[str, str] = DEFAULT_INTERVENTIONS,
    n_components: int = 3,
    reference_family: str = "Llama-2",
    law: LawOptions = DEFAULT_LAW,
    grid: int | Sequence[float] | None = None,
    growth_points: Sequence[float] | None = None,
    exclude_from_pca: Sequence[str] = (),
    n_boot: int = 1000,
    seed: int | np.random.SeedSequence | np.random.Generator | None = 0,
    alpha: float = 0.05,
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    min_family_models: int = 3,
    reference_resampling: str = "within",
) -> GapResults:
    """Gap curves of post-training interventions over reference-family-equivalent FLOPs, with bootstrap bands.

    Parameters
    ----------
    panel : models with benchmark scores, metadata (family, compute) and the target columns.
    base : target column of the metric without intervention (GSM8K 5-shot, flexible extract).
    interventions : label -> target column of each intervention (default CoT and CoT + self-consistency).
    n_components : K, principal capabilities every law uses.
    reference_family : the family whose compute axis is used (Llama-2 in the paper).
    law : floor/ceiling, loss and covariance of every law (default floor form with Huber loss, as the paper).
    grid : log10 C-bar values of the curves; an int gives that many points, None 50, spanning the
        models' equivalent FLOPs under all the laws (each law's models with its metric).
    growth_points : two log10 C-bar values (low < high) for the growth test; default the 25th and 75th
        percentiles of the base law's C-bar of the models that have every metric.
    exclude_from_pca : benchmarks left out of the imputation and PCA inputs.
    n_boot, seed : bootstrap replicates (>= 2) and their seed (same seed, same bands, whatever the backend).
    alpha : 1 - level of the intervals and bands.
    n_jobs, backend, scheduler : where the replicates run (see :func:`osltools.resampling.bootstrap`).
    min_family_models : families with at least this many models having every metric get a family test.
    reference_resampling : {"within", "pooled", "fixed"}
        How the reference family's models enter the replicates: resampled among themselves (default),
        with all the other models, or kept (see the module notes).

    Returns
    -------
    GapResults

    Raises
    ------
    ConfigError
        Unknown target column, an intervention equal to the base (or to another intervention), an unknown
        reference family, bad options.
    FitError
        Too few models for a law, a reference family without 2 models with compute, the pipeline failing on
        the full panel, or too many failed replicates.

    Examples
    --------
    >>> from osltools.datasets import load_panel
    >>> panel = load_panel("obsscaling-post-training", model_set="main")  # doctest: +SKIP
    >>> res = compare_interventions(panel, n_boot=1000, n_jobs=2)  # doctest: +SKIP
    >>> res.growth_tests()  # doctest: +SKIP
    """
    if not isinstance(panel, Panel):
        raise ConfigError(f"panel must be an osltools Panel, got {type(panel).__name__}")
    if "source_model" in panel.meta.columns:
        raise ConfigError("the panel is itself a bootstrap resample (metadata column 'source_model'); pass the "
                          "original panel")
    _check_options(n_boot, alpha, min_family_models, law, reference_resampling)
    metrics = _check_metrics(panel, base, interventions)
    reference = _check_reference(panel, reference_family)
    labels = [label for label, _ in metrics]
    spec = _Spec(metrics, _comparisons(labels), n_components, law, reference_family,
                 tuple([exclude_from_pca] if isinstance(exclude_from_pca, str) else exclude_from_pca))
    panel = panel.select(targets=[column for _, column in metrics])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OSLWarning)
        fit = spec.fit(panel)
    raised = dict.fromkeys((w.category, str(w.message)) for w in caught if issubclass(w.category, OSLWarning))
    for category, message in raised:
        warnings.warn(message, category, stacklevel=2)
    fit_warnings = tuple(message for _, message in raised)

    complete = panel.models[panel.targets.notna().all(axis=1).to_numpy()]
    grid_values = _grid(grid, fit, spec)
    points = _growth_points(growth_points, fit, spec, complete)
    family_of = _family_view(panel, spec, complete, min_family_models)
    family_panel = None
    if len(family_of):
        family_panel = pca_inputs(panel.select(list(family_of.index)), spec.exclude_from_pca)
    pooled = reference_resampling == "pooled"
    pipeline = _GapPipeline(spec, panel, grid=grid_values, growth_points=points,
                            reference_positions=np.empty(0, dtype=np.intp) if pooled else reference,
                            reference_resampling=reference_resampling, family_panel=family_panel, family_of=family_of)
    others = panel if pooled else panel.drop(list(panel.models[reference]))
    replicates = bootstrap(pipeline, others, n_boot=n_boot, seed=seed, n_jobs=n_jobs, backend=backend,
                           scheduler=scheduler, label="Bootstrap of intervention gap curves")
    return GapResults(spec=spec, panel=panel, fit=fit, grid=grid_values, growth_points=points,
                      replicates=replicates, per_model=_per_model(panel, spec, fit, family_of, family_panel),
                      alpha=float(alpha), reference_resampling=reference_resampling,
                      min_family_models=int(min_family_models), fit_warnings=fit_warnings)
