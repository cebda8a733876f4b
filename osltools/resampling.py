"""The one bootstrap / cross-validation engine: re-run a whole pipeline on resampled models.

Three entry points share one runner:

- :func:`replicate` runs ``func(rng, index)`` ``n`` times, each with its own
  random generator, and collects the labelled results in a table;
- :func:`bootstrap` resamples a :class:`~osltools.data.Panel`'s models with
  replacement (optionally within strata) and calls ``pipeline(panel, rng)``;
- :func:`cross_validate` splits the models into folds (random, stratified or
  by group) and calls ``pipeline(train, test, rng)`` once per fold.

Reproducibility: the seed becomes a :class:`numpy.random.SeedSequence`;
replicate ``i`` draws from ``default_rng(SeedSequence(seed).spawn(n)[i])``
and results are put back in replicate order, so the same seed gives the same
table whatever ``n_jobs`` or backend (loky, threading, multiprocessing,
sequential, or a Dask cluster through joblib). The root sequence itself
(never handed to a replicate) seeds the full-panel fit of a bootstrap and the
fold assignment of a cross-validation.

Failures: a replicate that raises is caught in the worker and recorded
(:attr:`Replicates.failures`), never silently dropped; one
:class:`~osltools.exceptions.ResamplingWarning` reports how many failed, and
more than ``max_failure_share`` failures raise
:class:`~osltools.exceptions.FitError`.
"""

from __future__ import annotations

import numbers
import pickle
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Iterator

import joblib
import numpy as np
import pandas as pd

from .data import Panel
from .exceptions import ConfigError, FitError, ResamplingWarning
from .replicates import Replicates

__all__ = ["Replicates", "bootstrap", "cross_validate", "fold_assignment", "replicate", "resolve_seed"]

BACKENDS = ("loky", "threading", "multiprocessing", "sequential", "dask")
#: Tasks per worker: each task runs a contiguous chunk of replicates, so the
#: pipeline (and its panel) is pickled once per chunk, while several chunks per
#: worker keep the load balanced when replicates take unequal times.
CHUNKS_PER_WORKER = 4
#: Column name of a pipeline that returns a single number.
SCALAR_LABEL = "value"
_SCALAR_INDEX = pd.Index([SCALAR_LABEL])

Result = pd.Series | pd.DataFrame | Mapping[Hashable, float] | float


# ---------------------------------------------------------------------------- seeds
def resolve_seed(seed: int | np.random.SeedSequence | np.random.Generator | None) -> np.random.SeedSequence:
    """The root :class:`~numpy.random.SeedSequence` of a run.

    An int (or None: fresh OS entropy) becomes ``SeedSequence(seed)``; a
    SeedSequence is used as a recipe (copied, never advanced, so passing it
    again reproduces the run); from a Generator 128 bits of entropy are drawn
    once (this advances the Generator).
    """
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int.from_bytes(seed.bytes(16), "little"))
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise ConfigError(
        f"seed={seed!r} is not accepted (expected a non-negative int, a numpy SeedSequence or Generator, or None)"
    )


def _children(root: np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    # spawn() advances its SeedSequence: spawn from a copy so `root` stays a reusable recipe
    return resolve_seed(root).spawn(n)


# ---------------------------------------------------------------------------- results of one replicate
def labelled_values(result: Result) -> tuple[pd.Index, np.ndarray]:
    """A pipeline result as (labels, float values) of its estimates.

    Series and dicts keep their labels; a number gets the label ``"value"``; a
    DataFrame is flattened cell by cell with (row, column) labels, so
    :meth:`Replicates.unstack` can put it back in shape. Raises TypeError
    (with what was wrong) for anything else.
    """
    if isinstance(result, (numbers.Real, np.bool_)):  # the common, cheap case: no pandas object built
        return _SCALAR_INDEX, np.array([result], dtype=np.float64)
    if isinstance(result, pd.DataFrame):
        if isinstance(result.index, pd.MultiIndex) or isinstance(result.columns, pd.MultiIndex):
            raise TypeError("a DataFrame with a MultiIndex (return a Series with a MultiIndex instead)")
        index = pd.MultiIndex.from_product(
            [result.index, result.columns], names=[result.index.name or "row", result.columns.name or "column"]
        )
        values = result.to_numpy().ravel()
    elif isinstance(result, pd.Series):
        index, values = result.index, result.to_numpy()
    elif isinstance(result, Mapping):
        index, values = pd.Index(list(result)), np.array(list(result.values()), dtype=object)
    else:
        raise TypeError(f"a {type(result).__name__}")
    if not index.is_unique:
        raise TypeError(f"a result with duplicate labels {list(index[index.duplicated()])[:5]}")
    try:
        return index, values.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"a result with non-numeric values ({error})") from None


def as_series(result: Result) -> pd.Series:
    """A pipeline result as a float Series of labelled estimates (see :func:`labelled_values`)."""
    index, values = labelled_values(result)
    return pd.Series(values, index=index)


def _run_chunk(func: Callable[[np.random.Generator, int], Result], indices: Sequence[int],
               seeds: Sequence[np.random.SeedSequence]) -> list[tuple]:
    """Run replicates in a worker: ("ok", i, labels, values) | ("failed", i, error, message) | ("bad", i, what)."""
    out = []
    for index, seed in zip(indices, seeds):
        try:
            result = func(np.random.default_rng(seed), index)
        except Exception as error:  # noqa: BLE001 - a failed replicate is data; KeyboardInterrupt still stops the run
            out.append(("failed", index, type(error).__name__, str(error)))
            continue
        try:
            out.append(("ok", index, *labelled_values(result)))
        except TypeError as what:
            out.append(("bad", index, str(what)))
    return out


# ---------------------------------------------------------------------------- execution
def _check_run_options(n: object, n_jobs: object, backend: object, scheduler: object,
                       max_failure_share: object) -> None:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"n={n!r} is not accepted (expected an integer >= 1: the number of replicates)")
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ConfigError(
            f"n_jobs={n_jobs!r} is not accepted (expected a non-zero integer: 1 runs in this process, "
            "k > 1 uses k workers, -1 all cores)"
        )
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r} is not accepted (expected one of {', '.join(BACKENDS)})")
    if scheduler is not None and backend != "dask":
        raise ConfigError(f"scheduler={scheduler!r} is only used with backend='dask' (got backend={backend!r})")
    share = max_failure_share
    if not isinstance(share, numbers.Real) or isinstance(share, bool) or not 0 <= share <= 1:
        raise ConfigError(
            f"max_failure_share={share!r} is not accepted (expected a number in [0, 1]: the largest share of "
            "replicates that may fail before the run is an error)"
        )


@contextmanager
def _dask_client(scheduler: str | None) -> Iterator[Any]:
    """The Dask client to run on: one connected to ``scheduler`` (closed afterwards) or the current default."""
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            'backend="dask" needs dask.distributed, which is not installed: pip install "osltools[dask]"'
        ) from None
    if scheduler is None:
        try:
            client = distributed.get_client()
        except ValueError:
            raise ConfigError(
                'backend="dask" found no running Dask client: pass scheduler="tcp://HOST:PORT" (the address of '
                "a dask scheduler) or start one first, e.g. dask.distributed.Client(LocalCluster())"
            ) from None
        yield client
        return
    try:
        client = distributed.Client(scheduler, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ConfigError(f"scheduler={scheduler!r}: cannot connect to a Dask scheduler there ({error})") from None
    try:
        yield client
    finally:
        client.close()


def _execute(func: Callable, n: int, root: np.random.SeedSequence, *, n_jobs: int, backend: str,
             scheduler: str | None) -> list[tuple]:
    """Run every replicate on joblib, in chunks; outcomes come back in replicate order."""
    seeds = _children(root, n)
    if backend == "dask":
        with _dask_client(scheduler) as client:
            # joblib's Dask backend always uses every worker thread of the cluster; n_jobs is not a limit there
            workers = max(1, sum(client.ncores().values()))
            with joblib.parallel_config(backend="dask", client=client):
                return _dispatch(func, seeds, n_jobs=-1, workers=workers)
    with joblib.parallel_config(backend=backend):
        workers = joblib.effective_n_jobs(n_jobs)
        return _dispatch(func, seeds, n_jobs=n_jobs, workers=workers)


def _dispatch(func: Callable, seeds: list[np.random.SeedSequence], *, n_jobs: int, workers: int) -> list[tuple]:
    n = len(seeds)
    n_chunks = 1 if workers <= 1 else min(n, CHUNKS_PER_WORKER * workers)
    bounds = np.linspace(0, n, n_chunks + 1).round().astype(int)
    tasks = (
        joblib.delayed(_run_chunk)(func, range(lo, hi), seeds[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])
    )
    try:
        chunks = joblib.Parallel(n_jobs=n_jobs, batch_size=1)(tasks)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        # pipeline errors are caught inside the chunks: what escapes here is the transport
        if "pickle" not in str(error).lower():
            raise
        raise ConfigError(
            f"the pipeline cannot be sent to the workers ({error}); define it at module level, or use "
            "backend='loky' (which also sends lambdas and closures) or n_jobs=1"
        ) from error
    return [outcome for chunk in chunks for outcome in chunk]


# ---------------------------------------------------------------------------- assembly
def _assemble(outcomes: list[tuple], estimate: pd.Series | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The replicate table (successful replicates) and the failures table."""
    bad = [o for o in outcomes if o[0] == "bad"]
    if bad:
        raise ConfigError(
            f"the pipeline returned {bad[0][2]} in replicate {bad[0][1]} (and {len(bad) - 1} others); expected a "
            "pandas Series of labelled numbers, a number, a dict of numbers or a DataFrame of numbers"
        )
    ok = [o for o in outcomes if o[0] == "ok"]
    failed = [o[1:] for o in outcomes if o[0] == "failed"]
    failures = pd.DataFrame(failed, columns=["replicate", "error", "message"]).astype({"replicate": int})
    rows = pd.Index([o[1] for o in ok], name="replicate", dtype=int)
    if not ok:
        return pd.DataFrame(index=rows), failures
    columns = estimate.index if estimate is not None else ok[0][2]
    if all(o[2] is columns or o[2].equals(columns) for o in ok):  # the common case, fast
        values = np.vstack([o[3] for o in ok])
    else:
        for o in ok:
            columns = columns.append(o[2].difference(columns, sort=False))
        values = np.vstack([pd.Series(o[3], index=o[2]).reindex(columns).to_numpy() for o in ok])
    return pd.DataFrame(values, index=rows, columns=columns), failures


def _report_failures(failures: pd.DataFrame, n: int, max_failure_share: float, what: str) -> None:
    n_failed = len(failures)
    if not n_failed:
        return
    if n_failed == n or n_failed > max_failure_share * n:
        first = "\n".join(f"  - replicate {r}: {e}: {_first_line(m)}"
                          for r, e, m in failures.head(3).itertuples(index=False))
        why = "all failed" if n_failed == n else f"more than max_failure_share={max_failure_share:g}"
        raise FitError(f"{n_failed} of {n} {what} failed ({why}); the first:\n{first}")
    (error, message), count = Counter(zip(failures["error"], failures["message"])).most_common(1)[0]
    warnings.warn(
        f"{n_failed} of {n} {what} failed and are left out of the results (see .failures); "
        f"the commonest, {count} times: {error}: {_first_line(message)}",
        ResamplingWarning,
        stacklevel=4,
    )


def _first_line(message: str, limit: int = 300) -> str:
    lines = message.splitlines()
    return (lines[0][:limit] + (" ..." if len(lines) > 1 or len(lines[0]) > limit else "")) if lines else ""


def _report_gaps(table: pd.DataFrame, what: str) -> None:
    """Warn when some estimates have no value in some successful replicates (NaN returned, or label absent)."""
    counts = table.notna().sum()
    short = counts[counts < len(table)]
    if len(table) and len(short):
        label, count = short.index[0], short.iloc[0]
        warnings.warn(
            f"{len(short)} of {table.shape[1]} estimates have no value in some of the {len(table)} successful "
            f"{what} (e.g. {label!r} in {len(table) - count}); their statistics use only the "
            "replicates with a value (column n of summary())",
            ResamplingWarning,
            stacklevel=4,
        )


def _run(func: Callable, n: int, *, seed, n_jobs: int, backend: str, scheduler: str | None, label: str | None,
         max_failure_share: float, kind: str, estimate: pd.Series | None = None,
         root: np.random.SeedSequence | None = None, labels: Sequence[str] | None = None,
         n_models: int | None = None) -> Replicates:
    _check_run_options(n, n_jobs, backend, scheduler, max_failure_share)
    root = resolve_seed(seed) if root is None else root
    outcomes = _execute(func, n, root, n_jobs=n_jobs, backend=backend, scheduler=scheduler)
    table, failures = _assemble(outcomes, estimate)
    what = {"replicate": "replicates", "bootstrap": "bootstrap replicates", "cross-validation": "folds"}[kind]
    _report_failures(failures, n, max_failure_share, what)
    _report_gaps(table, what)
    return Replicates(
        table=table, failures=failures, n_requested=n, estimate=estimate, seed=root, backend=backend,
        n_jobs=n_jobs, kind=kind, label=label,
        labels=None if labels is None else pd.Series(list(labels), index=pd.RangeIndex(n, name="replicate")),
        n_models=n_models,
    )


# ---------------------------------------------------------------------------- public entry points
def replicate(
    func: Callable[[np.random.Generator, int], Result],
    n: int,
    *,
    seed: int | np.random.SeedSequence | np.random.Generator | None,
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    label: str | None = None,
    max_failure_share: float = 0.5,
    estimate: Result | None = None,
) -> Replicates:
    """Run ``func(rng, index)`` for ``index = 0 .. n-1``, each with its own seeded generator.

    Parameters
    ----------
    func : callable
        ``func(rng, index)`` returning labelled estimates: a pandas Series, a
        number (column ``"value"``), a dict of numbers, or a DataFrame
        (flattened to (row, column) labels; see :meth:`Replicates.unstack`).
        Process backends send it to the workers: ``"loky"`` and ``"dask"``
        handle lambdas and closures (cloudpickle), ``"multiprocessing"``
        needs a module-level function or object.
    n : int
        Number of replicates (>= 1).
    seed : int, SeedSequence, Generator or None
        Replicate ``i`` uses ``default_rng(SeedSequence(seed).spawn(n)[i])``.
        With None, fresh entropy is drawn and kept in
        :attr:`Replicates.entropy`, so the run can be repeated.
    n_jobs : int
        Workers for the local backends (-1: all cores). Ignored by ``"dask"``,
        which uses every worker thread of the cluster.
    backend : {"loky", "threading", "multiprocessing", "sequential", "dask"}
        The joblib backend. ``"dask"`` runs on a ``dask.distributed`` cluster
        (the ``dask`` extra: ``pip install "osltools[dask]"``).
    scheduler : str, optional
        With ``backend="dask"``: the scheduler address to connect to (the
        client is closed afterwards); by default the current Dask client.
    label : str, optional
        What is replicated, shown in ``repr`` and ``summary()``.
    max_failure_share : float
        Largest share of failed replicates tolerated; above it (or when all
        fail) :class:`~osltools.exceptions.FitError` is raised. Failures below
        it give one :class:`~osltools.exceptions.ResamplingWarning`.
    estimate : Series, number, dict or DataFrame, optional
        The point estimate the replicates scatter around (e.g. of a parametric
        bootstrap), as :attr:`Replicates.estimate`; needed by the ``basic`` and
        ``normal`` intervals and by :meth:`Replicates.simultaneous_band`.

    Returns
    -------
    Replicates

    Examples
    --------
    >>> reps = replicate(lambda rng, i: rng.normal(), 200, seed=1)
    >>> reps.table.shape
    (200, 1)
    >>> bool(abs(reps.table["value"].std() - 1) < 0.2)
    True
    """
    if estimate is not None:
        try:
            estimate = as_series(estimate)
        except TypeError as what:
            raise ConfigError(f"estimate is {what}; expected labelled numbers like the replicates'") from None
    return _run(func, n, seed=seed, n_jobs=n_jobs, backend=backend, scheduler=scheduler, label=label,
                max_failure_share=max_failure_share, kind="replicate", estimate=estimate)


def _strata_positions(panel: Panel, strata: str | None, *, argument: str = "strata") -> list[np.ndarray]:
    """Integer positions of the models of each stratum (one group of all models without strata)."""
    if strata is None:
        return [np.arange(panel.n_models)]
    meta = panel.meta
    if not isinstance(strata, str) or strata not in meta.columns:
        raise ConfigError(
            f"{argument}={strata!r} is not a metadata column (expected one of {', '.join(map(str, meta.columns))})"
        )
    values = meta[strata]
    missing = list(panel.models[values.isna().to_numpy()])
    if missing:
        raise ConfigError(
            f"{argument}={strata!r}: models {missing[:5]} have no {strata!r}; fill it or drop those models"
        )
    codes, _ = pd.factorize(values, sort=False)
    return [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]


def _check_pipeline(pipeline: object, panel: object) -> None:
    if not callable(pipeline):
        raise ConfigError(f"pipeline={pipeline!r} is not callable (expected a function of the panel and an rng)")
    if not isinstance(panel, Panel):
        raise ConfigError(f"panel must be an osltools Panel, got {type(panel).__name__}")


class _BootstrapTask:
    """One bootstrap replicate: draw models with replacement within each stratum, run the pipeline."""

    def __init__(self, pipeline: Callable, panel: Panel, groups: list[np.ndarray]):
        self.pipeline, self.panel, self.groups = pipeline, panel, groups

    def positions(self, rng: np.random.Generator) -> np.ndarray:
        return np.concatenate([group[rng.integers(0, len(group), size=len(group))] for group in self.groups])

    def __call__(self, rng: np.random.Generator, index: int) -> Result:
        return self.pipeline(self.panel.resample(self.positions(rng)), rng)


def bootstrap(
    pipeline: Callable[[Panel, np.random.Generator], Result],
    panel: Panel,
    *,
    n_boot: int = 1000,
    seed: int | np.random.SeedSequence | np.random.Generator | None,
    strata: str | None = None,
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    label: str | None = None,
    max_failure_share: float = 0.5,
) -> Replicates:
    """Nonparametric bootstrap over models: re-run the whole pipeline on resampled panels.

    Each replicate draws ``panel.n_models`` models with replacement (within
    each stratum, keeping its size, when ``strata`` names a metadata column
    such as ``"family"``), builds the resampled panel with
    :meth:`Panel.resample <osltools.data.Panel.resample>` (repeats renamed
    ``"<model>#2"``..., original id in metadata ``source_model``) and calls
    ``pipeline(resampled, rng)``. The point estimate
    ``pipeline(panel, rng)`` on the full panel is computed once first (with
    the root seed's generator) and kept in :attr:`Replicates.estimate`; if it
    fails, :class:`~osltools.exceptions.FitError` is raised at once.

    A resample the pipeline cannot handle (e.g. a benchmark left without any
    observed value raises ``DataValidationError``) counts as a failed
    replicate. Other options as in :func:`replicate`.

    Examples
    --------
    >>> from osltools.datasets import simulate_panel
    >>> panel, _ = simulate_panel(seed=0, n_models=40, n_families=8)
    >>> mean_mmlu = lambda p, rng: p.scores["MMLU"].mean()
    >>> reps = bootstrap(mean_mmlu, panel, n_boot=200, seed=3)
    >>> reps.conf_int().columns.tolist()
    ['lower', 'upper']
    """
    _check_pipeline(pipeline, panel)
    if not isinstance(n_boot, numbers.Integral) or isinstance(n_boot, bool) or n_boot < 1:
        raise ConfigError(f"n_boot={n_boot!r} is not accepted (expected an integer >= 1)")
    task = _BootstrapTask(pipeline, panel, _strata_positions(panel, strata))
    root = resolve_seed(seed)
    _check_run_options(n_boot, n_jobs, backend, scheduler, max_failure_share)
    try:
        estimate = as_series(pipeline(panel, np.random.default_rng(resolve_seed(root))))
    except TypeError as what:
        raise ConfigError(f"the pipeline returned {what} on the full panel (expected labelled numbers)") from None
    except Exception as error:  # noqa: BLE001 - reported as a FitError with its cause
        raise FitError(f"the pipeline fails on the full panel, so there is nothing to bootstrap: "
                       f"{type(error).__name__}: {error}") from error
    return _run(task, n_boot, seed=None, root=root, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
                label=label, max_failure_share=max_failure_share, kind="bootstrap", estimate=estimate,
                n_models=panel.n_models)


# ---------------------------------------------------------------------------- cross-validation
def _round_robin(order: np.ndarray, n_folds: int) -> np.ndarray:
    folds = np.empty(len(order), dtype=int)
    folds[order] = np.arange(len(order)) % n_folds
    return folds


def _deal_groups(sizes: list[int], order: np.ndarray, n_folds: int) -> np.ndarray:
    """Give each group (in ``order``) to the fold with the fewest models so far."""
    group_fold = np.empty(len(sizes), dtype=int)
    totals = np.zeros(n_folds, dtype=int)
    for k in order:
        group_fold[k] = int(np.argmin(totals))
        totals[group_fold[k]] += sizes[k]
    return group_fold


def fold_assignment(
    panel: Panel,
    *,
    n_folds: int | None = 5,
    seed: int | np.random.SeedSequence | np.random.Generator | None,
    strata: str | None = None,
    groups: str | None = None,
) -> pd.Series:
    """The fold of every model (a Series indexed by model, named ``fold``, values 0 .. k-1).

    - Random (default): models shuffled, dealt round-robin: fold sizes differ by at most one.
    - ``strata="family"``: shuffled within each stratum and dealt in turn, so
      every stratum is spread evenly across folds.
    - ``groups="family"``: whole groups go to one fold; ``n_folds=None`` gives
      leave-one-group-out (folds in sorted group order), an integer k deals
      shuffled groups to the currently smallest fold.

    :func:`cross_validate` uses exactly this assignment for the same seed.

    Examples
    --------
    >>> from osltools.datasets import simulate_panel
    >>> panel, _ = simulate_panel(seed=0, n_models=40, n_families=8)
    >>> fold_assignment(panel, n_folds=4, seed=1).value_counts().tolist()
    [10, 10, 10, 10]
    """
    folds, _ = _folds(panel, n_folds=n_folds, root=resolve_seed(seed), strata=strata, groups=groups)
    return folds


def _folds(panel: Panel, *, n_folds: int | None, root: np.random.SeedSequence, strata: str | None,
           groups: str | None) -> tuple[pd.Series, list[str]]:
    """Fold per model and fold labels; random draws come from the root seed's own generator."""
    if not isinstance(panel, Panel):
        raise ConfigError(f"panel must be an osltools Panel, got {type(panel).__name__}")
    if strata is not None and groups is not None:
        raise ConfigError("pass strata= or groups=, not both (groups keep whole groups in one fold)")
    if n_folds is not None and (not isinstance(n_folds, numbers.Integral) or isinstance(n_folds, bool)
                                or n_folds < 2):
        raise ConfigError(f"n_folds={n_folds!r} is not accepted (expected an integer >= 2, or None with groups=)")
    rng = np.random.default_rng(resolve_seed(root))
    if groups is None:
        if n_folds is None:
            raise ConfigError("n_folds=None means leave-one-group-out and needs groups= (e.g. groups='family'); "
                              "for leave-one-model-out pass n_folds=panel.n_models")
        if n_folds > panel.n_models:
            raise ConfigError(f"n_folds={n_folds} is larger than the {panel.n_models} models")
        order = np.concatenate([rng.permutation(g) for g in _strata_positions(panel, strata)])
        folds = _round_robin(order, n_folds)
        labels = [f"fold {k + 1}" for k in range(n_folds)]
    else:
        members = _strata_positions(panel, groups, argument="groups")
        names = [str(panel.meta[groups].iloc[g[0]]) for g in members]
        if n_folds is None:  # leave one group out, folds in sorted group order
            order = np.argsort(names, kind="stable")
            group_fold = np.empty(len(members), dtype=int)
            group_fold[order] = np.arange(len(members))
            labels = [names[k] for k in order]
        else:
            if n_folds > len(members):
                raise ConfigError(f"n_folds={n_folds} is larger than the {len(members)} groups of {groups!r}")
            group_fold = _deal_groups([len(g) for g in members], rng.permutation(len(members)), n_folds)
            labels = [f"fold {k + 1}" for k in range(n_folds)]
        folds = np.empty(panel.n_models, dtype=int)
        for group, fold in zip(members, group_fold):
            folds[group] = fold
    return pd.Series(folds, index=panel.models, name="fold"), labels


class _FoldTask:
    """One cross-validation fold: split the panel, run the pipeline on (train, test)."""

    def __init__(self, pipeline: Callable, panel: Panel, folds: pd.Series):
        self.pipeline, self.panel, self.folds = pipeline, panel, folds

    def __call__(self, rng: np.random.Generator, index: int) -> Result:
        test = (self.folds == index).to_numpy()
        models = self.panel.models
        return self.pipeline(self.panel.select(models[~test]), self.panel.select(models[test]), rng)


def cross_validate(
    pipeline: Callable[[Panel, Panel, np.random.Generator], Result],
    panel: Panel,
    *,
    n_folds: int | None = 5,
    seed: int | np.random.SeedSequence | np.random.Generator | None,
    strata: str | None = None,
    groups: str | None = None,
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    label: str | None = None,
    max_failure_share: float = 0.5,
) -> Replicates:
    """K-fold cross-validation over models: ``pipeline(train_panel, test_panel, rng)`` once per fold.

    Folds are those of :func:`fold_assignment` (random, stratified, grouped,
    or leave-one-group-out with ``groups="family", n_folds=None``). Each fold
    is one replicate; :attr:`Replicates.labels` names it (``"fold 1"``... or
    the held-out group). Other options as in :func:`replicate`.

    Examples
    --------
    >>> from osltools.datasets import simulate_panel
    >>> panel, _ = simulate_panel(seed=0, n_models=40, n_families=8)
    >>> def test_error(train, test, rng):
    ...     return ((test.scores["MMLU"] - train.scores["MMLU"].mean()) ** 2).mean()
    >>> cv = cross_validate(test_error, panel, groups="family", n_folds=None, seed=0)
    >>> cv.n_requested
    8
    """
    _check_pipeline(pipeline, panel)
    root = resolve_seed(seed)
    folds, labels = _folds(panel, n_folds=n_folds, root=root, strata=strata, groups=groups)
    return _run(_FoldTask(pipeline, panel, folds), len(labels), seed=None, root=root, n_jobs=n_jobs,
                backend=backend, scheduler=scheduler, label=label, max_failure_share=max_failure_share,
                kind="cross-validation", labels=labels, n_models=panel.n_models)
