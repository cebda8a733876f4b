"""The results of a resampling run: replicate table, failures, intervals, simultaneous bands.

:class:`Replicates` is what :func:`~osltools.resampling.replicate`,
:func:`~osltools.resampling.bootstrap` and
:func:`~osltools.resampling.cross_validate` return. It stores the replicate
table unrounded and computes every statistic from it on request.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .exceptions import ConfigError, FitError
from .immutable import ImmutableSlots
from .summary import Summary, SummaryMixin

INTERVAL_METHODS = ("percentile", "basic", "normal")
#: Cross-validation summaries list every fold's values up to this many estimates.
MAX_FOLD_COLUMNS = 8


class Replicates(ImmutableSlots, SummaryMixin):
    """The replicates of a :func:`~osltools.resampling.replicate`, :func:`~osltools.resampling.bootstrap` or
    :func:`~osltools.resampling.cross_validate` run (immutable; pickles, e.g. to save a long run).

    Attributes
    ----------
    table : DataFrame
        Successful replicates (index ``replicate``, their numbers) x
        estimates (the pipeline's labels), unrounded.
    failures : DataFrame
        One row per failed replicate: ``replicate``, ``error`` (exception
        type), ``message``.
    estimate : Series or None
        The bootstrap point estimate on the full panel (None for other runs).
    labels : Series or None
        Cross-validation: the name of each fold (``"fold 1"``... or the
        held-out group), indexed by replicate number.
    seed : SeedSequence
        The root seed; passing it back as ``seed=`` repeats the run exactly.

    Notes
    -----
    Intervals (:meth:`conf_int`, :meth:`simultaneous_band`) use the
    replicates that have a value for the estimate (see column ``n`` of
    :meth:`summary`). Quantiles use numpy's default linear interpolation.
    For cross-validation the folds are not a sampling distribution, so
    :meth:`se`, :meth:`conf_int` and :meth:`simultaneous_band` refuse; use
    :attr:`table` and :meth:`summary` (mean, sd, min, max over folds).
    """

    __slots__ = ("_table", "_failures", "_n_requested", "_estimate", "_seed", "_backend", "_n_jobs", "_kind",
                 "_label", "_labels", "_n_models")

    def __init__(self, *, table: pd.DataFrame, failures: pd.DataFrame, n_requested: int,
                 estimate: pd.Series | None, seed: np.random.SeedSequence, backend: str, n_jobs: int, kind: str,
                 label: str | None = None, labels: pd.Series | None = None, n_models: int | None = None):
        parts = {"table": table, "failures": failures, "n_requested": n_requested, "estimate": estimate,
                 "seed": seed, "backend": backend, "n_jobs": n_jobs, "kind": kind, "label": label,
                 "labels": labels, "n_models": n_models}
        for name, value in parts.items():
            object.__setattr__(self, f"_{name}", value)

    # ------------------------------------------------------------------ views
    @property
    def table(self) -> pd.DataFrame:
        return self._table.copy()

    @property
    def failures(self) -> pd.DataFrame:
        return self._failures.copy()

    @property
    def n_requested(self) -> int:
        return self._n_requested

    @property
    def n_succeeded(self) -> int:
        return len(self._table)

    @property
    def n_failed(self) -> int:
        return len(self._failures)

    @property
    def estimate(self) -> pd.Series | None:
        return None if self._estimate is None else self._estimate.copy()

    @property
    def labels(self) -> pd.Series | None:
        return None if self._labels is None else self._labels.copy()

    @property
    def seed(self) -> np.random.SeedSequence:
        return copy.deepcopy(self._seed)  # the stored root is never spawned from, so a copy is the same recipe

    @property
    def entropy(self) -> int:
        """The root seed's entropy (with ``seed.spawn_key``, all that is needed to repeat the run)."""
        return self._seed.entropy

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def kind(self) -> str:
        """``"bootstrap"``, ``"cross-validation"`` or ``"replicate"``."""
        return self._kind

    @property
    def params(self) -> pd.Series:
        """The point estimate when there is one (bootstrap), else the mean over replicates."""
        return self.estimate if self._estimate is not None else self._table.mean()

    @property
    def bse(self) -> pd.Series:
        """Alias of :meth:`se` (Results contract)."""
        return self.se()

    # ------------------------------------------------------------------ statistics
    def _sampling(self, what: str) -> None:
        if self._kind == "cross-validation":
            raise ConfigError(
                f"{what} is not defined for cross-validation folds (they are not a sampling distribution); "
                "use .table or .summary() (mean, sd, min, max over folds)"
            )

    def _needs_estimate(self, what: str) -> pd.Series:
        if self._estimate is None:
            raise ConfigError(
                f"{what} needs a point estimate (Replicates.estimate: from bootstrap(), or estimate= of "
                f"replicate()), which this {self._kind} run does not have"
            )
        return self._estimate.reindex(self._table.columns)

    def se(self) -> pd.Series:
        """Bootstrap standard error of every estimate: the replicates' standard deviation (ddof=1)."""
        self._sampling("se()")
        return self._table.std(ddof=1).rename("se")

    def quantile(self, q: float | Sequence[float]) -> pd.Series | pd.DataFrame:
        """Quantiles of the replicates (a Series for one ``q``, a DataFrame indexed by ``q`` for several)."""
        try:
            values = np.atleast_1d(np.asarray(q, dtype=float))
        except (TypeError, ValueError):
            values = np.array([np.nan])
        if values.ndim != 1 or not np.all((values >= 0) & (values <= 1)):
            raise ConfigError(f"q={q!r} is not accepted (expected a number or numbers in [0, 1])")
        return self._table.quantile(q)

    def conf_int(self, alpha: float = 0.05, *, method: str = "percentile") -> pd.DataFrame:
        """Two-sided ``1 - alpha`` bootstrap intervals, a DataFrame with ``lower``/``upper`` per estimate.

        - ``"percentile"``: the ``alpha/2`` and ``1 - alpha/2`` quantiles of the replicates;
        - ``"basic"``: ``2 * estimate - q(1 - alpha/2)``, ``2 * estimate - q(alpha/2)``;
        - ``"normal"``: ``estimate -/+ z(1 - alpha/2) * se`` (no bias correction).

        ``"basic"`` and ``"normal"`` need :attr:`estimate` (a :func:`bootstrap` run).

        Examples
        --------
        >>> from osltools.resampling import replicate
        >>> reps = replicate(lambda rng, i: rng.normal(), 500, seed=0)
        >>> ci = reps.conf_int(0.1)
        >>> bool(ci.loc["value", "lower"] < 0 < ci.loc["value", "upper"])
        True
        """
        _check_alpha(alpha)
        self._sampling("conf_int()")
        if method not in INTERVAL_METHODS:
            raise ConfigError(f"method={method!r} is not accepted (expected one of {', '.join(INTERVAL_METHODS)})")
        lo, hi = self._table.quantile(alpha / 2), self._table.quantile(1 - alpha / 2)
        if method == "percentile":
            lower, upper = lo, hi
        elif method == "basic":
            estimate = self._needs_estimate("method='basic'")
            lower, upper = 2 * estimate - hi, 2 * estimate - lo
        else:
            estimate = self._needs_estimate("method='normal'")
            half = stats.norm.ppf(1 - alpha / 2) * self.se()
            lower, upper = estimate - half, estimate + half
        return pd.DataFrame({"lower": lower, "upper": upper}, index=self._table.columns)

    def simultaneous_band(self, columns: Sequence[Hashable] | Hashable, alpha: float = 0.05) -> pd.DataFrame:
        """A ``1 - alpha`` simultaneous band over ``columns`` (e.g. the grid points of a curve), by sup-t.

        With point estimate ``theta_c`` and bootstrap SE ``s_c`` of each column
        ``c``, every replicate ``b`` gives ``T_b = max_c |theta*_bc - theta_c| / s_c``;
        the band is ``theta_c -/+ q * s_c`` with ``q`` the ``1 - alpha``
        quantile of ``T_b``, so it covers the whole curve in about
        ``1 - alpha`` of repeated samples (Montiel Olea & Plagborg-Moller 2019,
        "Simultaneous confidence bands"). Only replicates with a value in
        every column are used; columns with zero SE get a zero-width band and
        do not enter the maximum.

        ``columns``: a list of estimate labels, or, for two-level labels, a
        first-level key (all its columns). Returns ``lower``/``upper`` per
        column; ``attrs`` hold ``critical_value``, ``alpha`` and ``n_replicates``.

        Examples
        --------
        >>> from osltools.datasets import simulate_panel
        >>> from osltools.resampling import bootstrap
        >>> panel, _ = simulate_panel(seed=0, n_models=40, n_families=8)
        >>> means = lambda p, rng: p.scores[["MMLU", "ARC-C", "HellaSwag"]].mean()
        >>> reps = bootstrap(means, panel, n_boot=200, seed=1)
        >>> band = reps.simultaneous_band(["MMLU", "ARC-C", "HellaSwag"])
        >>> bool(band.attrs["critical_value"] > 1.96)
        True
        """
        _check_alpha(alpha)
        self._sampling("simultaneous_band()")
        labels = self._select(columns)
        estimate = self._needs_estimate("simultaneous_band()")[labels]
        draws = self._table[labels].dropna()
        if len(draws) < 2:
            raise FitError(f"simultaneous_band() needs at least 2 replicates with a value in every column; "
                           f"{len(draws)} have one")
        se = draws.std(ddof=1)
        scale = se.where(se > 0, np.inf)  # zero-SE columns contribute |t| = 0
        t_max = ((draws - estimate).abs() / scale).max(axis=1)
        critical = float(np.quantile(t_max.to_numpy(), 1 - alpha))
        band = pd.DataFrame({"lower": estimate - critical * se, "upper": estimate + critical * se}, index=labels)
        band.attrs.update(critical_value=critical, alpha=alpha, n_replicates=len(draws))
        return band

    def _select(self, columns: Sequence[Hashable] | Hashable) -> pd.Index:
        known = self._table.columns
        if isinstance(known, pd.MultiIndex) and not isinstance(columns, (list, pd.Index, np.ndarray)):
            labels = known[known.get_level_values(0) == columns]
        elif isinstance(columns, (list, tuple, pd.Index, np.ndarray)) and not (
                isinstance(columns, tuple) and columns in known):
            labels = pd.Index(list(columns)) if not isinstance(known, pd.MultiIndex) else pd.MultiIndex.from_tuples(
                list(columns), names=known.names)
            unknown = [c for c in labels if c not in known]
            if unknown:
                raise ConfigError(f"columns {unknown[:5]} are not estimates (known: {list(known[:6])} ...)")
        else:
            labels = pd.Index([columns]) if columns in known else pd.Index([])
        if not len(labels):
            raise ConfigError(f"columns={columns!r} selects no estimate (known: {list(known[:6])} ...)")
        return labels

    def _statistics(self, alpha: float = 0.05) -> pd.DataFrame:
        """Per estimate: estimate (bootstrap), mean, se, percentile lower/upper, n; or mean/sd/min/max/n for CV."""
        table = self._table
        n = table.notna().sum().rename("n")
        if self._kind == "cross-validation":
            parts = [table.mean().rename("mean"), table.std(ddof=1).rename("sd"), table.min().rename("min"),
                     table.max().rename("max"), n]
        else:
            parts = [table.mean().rename("mean"), self.se(), self.conf_int(alpha), n]
            if self._estimate is not None:
                parts.insert(0, self._estimate.reindex(table.columns).rename("estimate"))
        return pd.concat(parts, axis=1)

    def unstack(self, name: str = "estimate", *, alpha: float = 0.05) -> pd.DataFrame:
        """One statistic of DataFrame-shaped estimates put back in shape (rows x columns of the pipeline's frame).

        ``name`` is a column of :meth:`tidy`: ``"estimate"``, ``"mean"``,
        ``"se"``, ``"lower"``, ``"upper"``, ``"n"`` (``"sd"``, ``"min"``,
        ``"max"`` for cross-validation); lower/upper are percentile bounds at ``alpha``.
        """
        columns = self._table.columns
        if not isinstance(columns, pd.MultiIndex) or columns.nlevels != 2:
            raise ConfigError("unstack() needs estimates with (row, column) labels, as from a pipeline that "
                              f"returns a DataFrame; these have {columns.nlevels} level(s)")
        statistics = self._statistics(alpha)
        if name not in statistics.columns:
            raise ConfigError(f"name={name!r} is not accepted (expected one of {', '.join(statistics.columns)})")
        rows, cols = columns.get_level_values(0).unique(), columns.get_level_values(1).unique()
        return statistics[name].unstack().reindex(index=rows, columns=cols)

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per estimate: its label(s), then estimate, mean, se, lower, upper, n (percentile bounds)."""
        statistics = self._statistics(alpha)
        if not isinstance(statistics.index, pd.MultiIndex):
            statistics.index.name = statistics.index.name or "term"
        return statistics.reset_index()

    # ------------------------------------------------------------------ display
    def _title(self) -> str:
        return self._label or {"bootstrap": "Bootstrap", "cross-validation": "Cross-validation",
                               "replicate": "Replicates"}[self._kind]

    def summary(self, alpha: float = 0.05) -> Summary:
        header = {
            "Kind": self._kind,
            "Models": self._n_models,
            "Replicates requested": self._n_requested,
            "Succeeded": self.n_succeeded,
            "Failed": self.n_failed,
            "Seed entropy": str(self.entropy),
            "Backend": self._backend if self._backend == "dask" else f"{self._backend} (n_jobs={self._n_jobs})",
        }
        if self._n_models is None:
            del header["Models"]
        if self._seed.spawn_key:
            header["Seed spawn key"] = str(self._seed.spawn_key)
        tables = [("Estimates", self._statistics(alpha))]
        notes = []
        if self._kind != "cross-validation":
            notes.append(f"se: standard deviation of the replicates (ddof=1); lower/upper: {1 - alpha:.0%} "
                         "percentile interval; n: replicates with a value.")
        elif self._table.shape[1] <= MAX_FOLD_COLUMNS:
            folds = self._table.set_axis(pd.Index(self._labels.loc[self._table.index], name="fold"), axis=0)
            tables.append(("Folds", folds))
        if self.n_failed:
            counts = self._failures.groupby(["error", "message"], sort=False).size().rename("replicates")
            tables.append(("Failed replicates", counts.sort_values(ascending=False).reset_index()))
        return Summary(self._title(), header, tables, notes)

    def __repr__(self) -> str:
        on = f" on {self._n_models} models" if self._n_models is not None else ""
        return (f"<Replicates {self._kind}{on}: {self.n_succeeded} of {self._n_requested} succeeded, "
                f"{self.n_failed} failed, {self._table.shape[1]} estimates, seed entropy {self.entropy}>")


def _check_alpha(alpha: object) -> None:
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")
