"""PCA imputation of missing benchmark scores (METHOD.md step 1).

Columns are standardized on their observed cells; missing cells start at the
column mean and are repeatedly overwritten with a rank-r PCA reconstruction of
the whole matrix until the largest change *of a missing cell* falls below
``tol`` (the public code tests the whole matrix against its reconstruction,
which never converges; we test only what we change). The result is
unstandardized and clipped to the valid range.

The fit is made on training models only. New (held-out) models are completed
by projecting their observed cells onto the training components, so they never
influence the fit, and one model's completion does not depend on which other
models are completed with it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import Panel
from .exceptions import ConfigError, ConvergenceWarning, DataError
from .summary import Summary, SummaryMixin


def _scores_frame(data: Panel | pd.DataFrame) -> pd.DataFrame:
    frame = data.scores if isinstance(data, Panel) else pd.DataFrame(data)
    if not all(np.issubdtype(t, np.number) for t in frame.dtypes):
        raise DataError("scores must be numeric (build a Panel to get named errors for bad cells)")
    return frame


def _top_components(centred: np.ndarray, rank: int) -> np.ndarray:
    """The leading ``rank`` right singular vectors (T x rank) of a centred matrix.

    From the eigenvectors of the T x T Gram matrix: far cheaper than an SVD of
    the models x benchmarks matrix, and accurate enough for the leading
    components an imputation uses (the final PCA uses an SVD).
    """
    _, vectors = np.linalg.eigh(centred.T @ centred)
    return vectors[:, ::-1][:, :rank]


def low_rank_fill(
    z: np.ndarray, missing: np.ndarray, *, rank: int, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool, float]:
    """Iterate rank-``rank`` reconstruction on the missing cells of ``z`` (missing cells already set).

    Returns the completed matrix, the final column means and components
    (T x rank), the number of iterations, whether it converged, and the last
    largest change of a missing cell.
    """
    z = z.copy()
    rows, cols = np.nonzero(missing)
    change, iteration = 0.0, 0
    means = z.mean(axis=0)
    components = _top_components(z - means, rank)
    if rows.size == 0:
        return z, means, components, 0, True, 0.0
    for iteration in range(1, max_iter + 1):
        centred = z - means
        scores = centred[rows] @ components
        fitted = means[cols] + np.einsum("ij,ij->i", scores, components[cols])
        change = float(np.max(np.abs(fitted - z[rows, cols])))
        z[rows, cols] = fitted
        means = z.mean(axis=0)
        components = _top_components(z - means, rank)
        if change < tol:
            return z, means, components, iteration, True, change
    return z, means, components, iteration, False, change


@dataclass(frozen=True)
class PCAImputer:
    """Iterative PCA imputation, fitted on some models and able to complete others.

    Parameters
    ----------
    rank : number of principal components of the reconstruction (the paper uses 1).
    standardize : standardize columns on their observed cells before imputing (the paper does).
    tol : convergence tolerance on the largest change of a missing cell, in
        standardized units (raw units when ``standardize=False``).
    max_iter : iteration cap; reaching it emits a :class:`ConvergenceWarning`.
    clip : valid range of the scores.
    min_observed : a benchmark needs at least this many observed values.

    Examples
    --------
    >>> from osltools.datasets import simulate_panel
    >>> panel, _ = simulate_panel(seed=0)
    >>> fit = PCAImputer(rank=1).fit(panel)
    >>> bool(fit.converged), int(fit.completed.isna().sum().sum())
    (True, 0)
    """

    rank: int = 1
    standardize: bool = True
    tol: float = 1e-6
    max_iter: int = 500
    clip: tuple[float, float] = (0.0, 1.0)
    min_observed: int = 3

    def __post_init__(self):
        if not isinstance(self.rank, (int, np.integer)) or self.rank < 1:
            raise ConfigError(f"rank={self.rank!r} is not accepted (expected an integer >= 1)")
        if not self.tol > 0 or self.max_iter < 1:
            raise ConfigError(f"tol={self.tol!r}, max_iter={self.max_iter!r}: expected tol > 0 and max_iter >= 1")

    def _check(self, frame: pd.DataFrame) -> None:
        observed = frame.notna().sum()
        if frame.shape[1] <= self.rank:
            raise ConfigError(
                f"rank={self.rank} needs more benchmarks than that; the data have {frame.shape[1]} "
                f"(use rank <= {frame.shape[1] - 1})"
            )
        few = observed[observed < self.min_observed]
        if len(few):
            raise DataError(
                "; ".join(f"benchmark {b!r} has {n} observed values" for b, n in few.items())
                + f" (imputation needs at least {self.min_observed}; drop the benchmark or add data)"
            )
        empty = frame.index[frame.isna().all(axis=1)]
        if len(empty):
            raise DataError(f"models {list(empty)[:5]} have no observed benchmark (they cannot be imputed)")

    def fit(self, data: Panel | pd.DataFrame) -> ImputationResults:
        """Impute the missing cells of the training models; returns the fitted imputer."""
        frame = _scores_frame(data)
        self._check(frame)
        x = frame.to_numpy(dtype=float)
        missing = np.isnan(x)
        centre = np.nanmean(x, axis=0)
        scale = np.nanstd(x, axis=0) if self.standardize else np.ones(x.shape[1])
        flat = scale <= 0
        if flat.any():
            raise DataError(
                f"benchmarks {list(frame.columns[flat])} have the same value for every observed model; "
                "they cannot be standardized (drop them or use standardize=False)"
            )
        z = np.where(missing, 0.0, (x - centre) / scale)
        z, means, components, n_iter, converged, change = low_rank_fill(
            z, missing, rank=self.rank, tol=self.tol, max_iter=self.max_iter
        )
        if not converged:
            warnings.warn(
                f"PCA imputation did not converge in {self.max_iter} iterations (last largest change of a "
                f"missing cell {change:.3g} > tol={self.tol:g}); raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        completed = np.clip(z * scale + centre, *self.clip)
        return ImputationResults(
            imputer=self,
            completed=pd.DataFrame(completed, index=frame.index, columns=frame.columns),
            missing=pd.DataFrame(missing, index=frame.index, columns=frame.columns),
            centre=pd.Series(centre, index=frame.columns),
            scale=pd.Series(scale, index=frame.columns),
            means=means,
            components=components,
            n_iter=n_iter,
            converged=converged,
            last_change=change,
        )


@dataclass(frozen=True, repr=False)
class ImputationResults(SummaryMixin):
    """A fitted :class:`PCAImputer`: the completed training matrix and the fit that completes new models."""

    imputer: PCAImputer
    completed: pd.DataFrame
    missing: pd.DataFrame
    centre: pd.Series
    scale: pd.Series
    means: np.ndarray  # column means of the completed standardized matrix
    components: np.ndarray  # benchmark x rank, standardized space
    n_iter: int
    converged: bool
    last_change: float

    def transform(self, data: Panel | pd.DataFrame) -> pd.DataFrame:
        """Complete new models with the training fit (observed cells kept, missing ones projected)."""
        frame = _scores_frame(data)
        unknown = [b for b in frame.columns if b not in self.centre.index]
        absent = [b for b in self.centre.index if b not in frame.columns]
        if unknown or absent:
            raise ConfigError(
                f"benchmarks differ from the training fit: unknown {unknown}, absent {absent} "
                f"(expected {list(self.centre.index)})"
            )
        frame = frame[self.centre.index]
        x = frame.to_numpy(dtype=float)
        empty = frame.index[np.isnan(x).all(axis=1)]
        if len(empty):
            raise DataError(f"models {list(empty)[:5]} have no observed benchmark (they cannot be imputed)")
        z = (x - self.centre.to_numpy()) / self.scale.to_numpy() - self.means
        out = z.copy()
        for i, row in enumerate(z):
            seen = ~np.isnan(row)
            if seen.all():
                continue
            coef, *_ = np.linalg.lstsq(self.components[seen], row[seen], rcond=None)
            out[i, ~seen] = self.components[~seen] @ coef
        filled = (out + self.means) * self.scale.to_numpy() + self.centre.to_numpy()
        filled = np.where(np.isnan(x), np.clip(filled, *self.imputer.clip), x)
        return pd.DataFrame(filled, index=frame.index, columns=frame.columns)

    @property
    def n_imputed(self) -> int:
        return int(self.missing.to_numpy().sum())

    def imputed_cells(self) -> pd.DataFrame:
        """One row per imputed cell: model, benchmark, imputed value."""
        stacked = self.completed.where(self.missing).stack().dropna()
        return stacked.rename("imputed").rename_axis(["model", "benchmark"]).reset_index()

    def tidy(self) -> pd.DataFrame:
        return self.imputed_cells()

    def summary(self) -> Summary:
        header = {
            "Rank": self.imputer.rank,
            "Standardized": self.imputer.standardize,
            "Cells imputed": self.n_imputed,
            "Iterations": self.n_iter,
            "Converged": self.converged,
            "Last largest change": self.last_change,
        }
        per_benchmark = pd.DataFrame({"imputed": self.missing.sum(), "observed": (~self.missing).sum()})
        notes = [] if self.converged else [f"did not converge within {self.imputer.max_iter} iterations"]
        return Summary("PCA imputation", header, [("Cells per benchmark", per_benchmark)], notes)

    def __repr__(self) -> str:
        state = "converged" if self.converged else "NOT converged"
        return (
            f"<ImputationResults: rank {self.imputer.rank}, {self.n_imputed} cells of {self.completed.shape[0]} "
            f"models, {state} in {self.n_iter} iterations>"
        )


def hide_cells(observed: np.ndarray, share: float, rng: np.random.Generator, *, min_observed: int) -> np.ndarray:
    """Pick a random ``share`` of observed cells to hide, keeping every model with one cell and
    every benchmark with ``min_observed`` cells."""
    if not 0 < share < 1:
        raise ConfigError(f"share={share!r} is not accepted (expected a share of cells in (0, 1))")
    hidden = observed & (rng.uniform(size=observed.shape) < share)
    for i in np.flatnonzero((observed & ~hidden).sum(axis=1) == 0):
        hidden[i, rng.choice(np.flatnonzero(hidden[i]))] = False
    for j in range(observed.shape[1]):
        short = min_observed - (observed[:, j] & ~hidden[:, j]).sum()
        if short > 0:
            hidden[rng.choice(np.flatnonzero(hidden[:, j]), size=short, replace=False), j] = False
    return hidden


def _cv_errors(frame: pd.DataFrame, hidden: np.ndarray, ranks: tuple[int, ...], imputer: PCAImputer) -> dict:
    """Squared errors on hidden cells, per benchmark, for mean imputation and each rank."""
    truth = frame.to_numpy(dtype=float)
    masked = frame.mask(hidden)
    errors = {"mean": (masked.mean().to_numpy() - truth) ** 2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for rank in ranks:
            completed = PCAImputer(**{**imputer.__dict__, "rank": rank}).fit(masked).completed.to_numpy()
            errors[f"rank {rank}"] = (completed - truth) ** 2
    return {method: np.where(hidden, err, 0.0).sum(axis=0) for method, err in errors.items()}


class _HiddenCellRepeat:
    """One cross-validation repeat: hide cells, impute, return squared errors and counts per benchmark."""

    def __init__(self, frame: pd.DataFrame, ranks: tuple[int, ...], share: float, imputer: PCAImputer):
        self.frame, self.ranks, self.share, self.imputer = frame, ranks, share, imputer

    def __call__(self, rng: np.random.Generator, index: int) -> pd.Series:
        observed = self.frame.notna().to_numpy()
        hidden = hide_cells(observed, self.share, rng, min_observed=self.imputer.min_observed)
        parts = {("sq", m, b): v for m, values in _cv_errors(self.frame, hidden, self.ranks, self.imputer).items()
                 for b, v in zip(self.frame.columns, values)}
        parts |= {("n", "", b): v for b, v in zip(self.frame.columns, hidden.sum(axis=0))}
        return pd.Series(parts)


def imputation_cv(
    data: Panel | pd.DataFrame,
    *,
    ranks: tuple[int, ...] = (1, 2, 3),
    share: float = 0.1,
    n_repeats: int = 20,
    seed: int | np.random.Generator | None = 0,
    imputer: PCAImputer | None = None,
    n_jobs: int = 1,
) -> ImputationCV:
    """Cross-validate imputation: hide observed cells at random, impute, score on the hidden cells.

    Each repeat hides ``share`` of the observed cells (seeded), imputes them by
    column means and by PCA imputation of each rank, and records squared
    errors. Reported: RMSE per benchmark and method (pooled over repeats) and
    overall RMSE per method with its standard error across repeats. Repeats
    run on the resampling engine (:func:`osltools.resampling.replicate`).

    Examples
    --------
    >>> from osltools.datasets import simulate_panel
    >>> cv = imputation_cv(simulate_panel(seed=0).panel, ranks=(1, 2), n_repeats=3, seed=1)
    >>> list(cv.overall.index)
    ['mean', 'rank 1', 'rank 2']
    """
    from .resampling import replicate

    frame = _scores_frame(data)
    imputer = imputer or PCAImputer()
    if n_repeats < 2:
        raise ConfigError(f"n_repeats={n_repeats!r} is not accepted (expected >= 2, for a standard error)")
    if any(r < 1 or r >= frame.shape[1] for r in ranks):
        raise ConfigError(f"ranks={ranks!r}: each rank must be in [1, {frame.shape[1] - 1}]")
    reps = replicate(_HiddenCellRepeat(frame, tuple(ranks), share, imputer), n_repeats, seed=seed, n_jobs=n_jobs,
                     label="Imputation cross-validation").table
    squared = reps["sq"]  # repeat x (method, benchmark)
    counts = reps["n"][""]  # repeat x benchmark
    total_n = counts.sum().reindex(frame.columns)
    methods = list(squared.columns.get_level_values(0).unique())
    rmse = pd.DataFrame({m: np.sqrt(squared[m].sum() / total_n.where(total_n > 0)) for m in methods})
    rmse = rmse.reindex(frame.columns)
    repeats = pd.DataFrame({m: np.sqrt(squared[m].sum(axis=1) / counts.sum(axis=1)) for m in methods})
    summary = pd.DataFrame({"rmse": repeats.mean(), "se": repeats.std(ddof=1) / np.sqrt(len(repeats))})
    return ImputationCV(rmse=rmse, hidden_cells=total_n, overall=summary, repeats=repeats, share=share, seed=seed)


@dataclass(frozen=True, repr=False)
class ImputationCV(SummaryMixin):
    """Held-out-cell errors of mean and PCA imputation (see :func:`imputation_cv`)."""

    rmse: pd.DataFrame  # benchmark x method
    hidden_cells: pd.Series
    overall: pd.DataFrame  # method x (rmse, se)
    repeats: pd.DataFrame  # repeat x method
    share: float
    seed: object

    @property
    def best(self) -> str:
        return str(self.overall["rmse"].idxmin())

    def tidy(self) -> pd.DataFrame:
        long = self.rmse.rename_axis("benchmark").reset_index().melt("benchmark", var_name="method", value_name="rmse")
        return long

    def summary(self) -> Summary:
        header = {"Share hidden per repeat": self.share, "Repeats": len(self.repeats), "Seed": self.seed,
                  "Best method": self.best}
        table = self.rmse.assign(hidden=self.hidden_cells)
        gain = 1 - self.overall["rmse"] / self.overall.at["mean", "rmse"]
        notes = [f"{m}: overall RMSE {r:.4g} (SE {s:.2g}), {abs(g):.1%} {'lower' if g > 0 else 'higher'} "
                 "than mean imputation"
                 for (m, r, s), g in zip(self.overall.itertuples(), gain) if m != "mean"]
        return Summary("Imputation cross-validation (RMSE on hidden cells)", header,
                       [("Overall", self.overall), ("Per benchmark", table)], notes)

    def __repr__(self) -> str:
        return f"<ImputationCV: {len(self.repeats)} repeats, {int(self.hidden_cells.sum())} hidden cells, best {self.best}>"
