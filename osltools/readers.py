"""Readers that turn files into a :class:`~osltools.data.Panel`.

Formats:

- the paper's wide CSV (``Model, Model Family, Model Size (B), Pretraining Data
  Size (T), FLOPs (1E21)``, then one column per benchmark); snake-case
  metadata names (``model, family, params_b, tokens_t, flops``) work too;
- a tidy long CSV (``model, benchmark, score[, stderr]``);
- a directory of lm-evaluation-harness results
  (``<out>/<org__model>/results_<timestamp>.json``);
- a metadata CSV and target CSVs joined by model.

Original column names are mapped to osltools' names here, once. Readers only
read: input files are never modified.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .data import Panel
from .exceptions import ConfigError, DataError, DataValidationError, Problem

#: Metadata column names accepted in input files -> (osltools name, multiplier).
META_ALIASES: dict[str, tuple[str, float]] = {
    "model family": ("family", 1.0),
    "family": ("family", 1.0),
    "model size (b)": ("params_b", 1.0),
    "params_b": ("params_b", 1.0),
    "pretraining data size (t)": ("tokens_t", 1.0),
    "tokens_t": ("tokens_t", 1.0),
    "flops (1e21)": ("flops", 1e21),
    "flops": ("flops", 1.0),
}
MODEL_ALIASES = ("model", "model id", "model_id")


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_csv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {str(path)!r} (expected a CSV file)")
    try:
        return pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path}: cannot be read as CSV ({err})") from err


def _model_column(frame: pd.DataFrame, path: str | Path, model_column: str | None) -> str:
    if model_column is not None:
        if model_column not in frame.columns:
            raise DataError(f"{path}: no column {model_column!r} (columns: {list(frame.columns)})")
        return model_column
    for column in frame.columns:
        if column.strip().lower() in MODEL_ALIASES:
            return column
    raise DataError(f"{path}: no model column (expected one named 'Model' or 'model'; columns: {list(frame.columns)})")


def _index_by_model(frame: pd.DataFrame, column: str, path: str | Path) -> pd.DataFrame:
    models = frame[column].str.strip()
    if models.isna().any():
        rows = [int(i) + 2 for i in np.flatnonzero(models.isna())]
        raise DataValidationError([Problem(f"row {r} has no model id (column {column!r})") for r in rows], source=str(path))
    out = frame.drop(columns=[column])
    out.index = pd.Index(models.to_numpy(), name="model")
    return out


def split_meta(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a model-indexed frame into (metadata in osltools names and units, other columns)."""
    meta = pd.DataFrame(index=frame.index)
    rest = []
    for column in frame.columns:
        alias = META_ALIASES.get(column.strip().lower())
        if alias is None:
            rest.append(column)
            continue
        name, factor = alias
        if name in meta:
            raise DataError(f"two columns map to metadata {name!r}; keep one of them")
        if factor == 1.0:
            meta[name] = frame[column]
        else:
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = frame[column].notna() & values.isna()
            if bad.any():
                model = frame.index[bad][0]
                raise DataValidationError(
                    [Problem(f"model {model!r}, {column!r}: value {frame.at[model, column]!r} is not a number",
                             model=model, column=column)]
                )
            meta[name] = values * factor
    return meta, frame[rest]


def read_meta_csv(path: str | Path, *, model_column: str | None = None) -> pd.DataFrame:
    """Metadata by model from a CSV (``family``, ``params_b``, ``tokens_t``, ``flops`` or the paper's names)."""
    frame = _read_csv(path)
    frame = _index_by_model(frame, _model_column(frame, path, model_column), path)
    meta, _ = split_meta(frame)
    if meta.shape[1] == 0:
        raise DataError(
            f"{path}: no metadata column found (expected some of family, params_b, tokens_t, flops "
            "or Model Family, Model Size (B), Pretraining Data Size (T), FLOPs (1E21))"
        )
    return meta


def _merge_meta(inline: pd.DataFrame, extra: pd.DataFrame | None, source: str) -> pd.DataFrame:
    if extra is None:
        return inline
    both = [c for c in extra.columns if c in inline.columns and inline[c].notna().any()]
    if both:
        raise DataError(
            f"{source}: metadata columns {both} are given both in the scores file and in the metadata file; "
            "keep them in one place"
        )
    inline = inline.drop(columns=[c for c in extra.columns if c in inline.columns])
    index = inline.index.union(extra.index, sort=False)
    return pd.concat([inline.reindex(index), extra.reindex(index)], axis=1)


def _as_meta_frame(meta: str | Path | pd.DataFrame | None) -> pd.DataFrame | None:
    if meta is None or isinstance(meta, pd.DataFrame):
        return meta
    return read_meta_csv(meta)


def _sources(*paths: str | Path | None) -> dict[str, str]:
    return {str(p): file_sha256(p) for p in paths if p is not None and Path(p).is_file()}


def _finish(panel: Panel, warn: bool) -> Panel:
    if warn:
        panel.warn_plausibility()
    return panel


def read_wide_csv(
    path: str | Path,
    *,
    scale: float = 1.0,
    meta: str | Path | pd.DataFrame | None = None,
    benchmarks: list[str] | None = None,
    targets: list[str] | None = None,
    model_column: str | None = None,
    name: str | None = None,
    warn: bool = True,
) -> Panel:
    """Read the paper's wide layout: a model column, metadata columns, then one column per benchmark.

    Parameters
    ----------
    path : path to the CSV.
    scale : divide scores by this (``100`` for percentages).
    meta : a metadata CSV or frame joined by model (for columns the file lacks).
    benchmarks : benchmark columns to keep (default: every non-metadata, non-target column).
    targets : columns of the file that are downstream targets, not benchmarks (e.g. ``Arena-Elo``).
    model_column : name of the model column (default: ``Model`` or ``model``).

    Examples
    --------
    >>> panel = read_wide_csv("base_llm_benchmark_eval.csv")  # doctest: +SKIP
    """
    frame = _read_csv(path)
    frame = _index_by_model(frame, _model_column(frame, path, model_column), path)
    inline, scores = split_meta(frame)
    targets = list(targets or [])
    absent = [t for t in targets if t not in scores.columns]
    if absent:
        raise ConfigError(f"target columns {absent} are not columns of {path} (columns: {list(scores.columns)})")
    target_frame, scores = scores[targets], scores.drop(columns=targets)
    if benchmarks is not None:
        missing = [b for b in benchmarks if b not in scores.columns]
        if missing:
            raise ConfigError(f"benchmarks {missing} are not columns of {path} (columns: {list(scores.columns)})")
        scores = scores[benchmarks]
    if scores.shape[1] == 0:
        raise DataError(f"{path}: no benchmark column besides the model and metadata columns")
    extra = _as_meta_frame(meta)
    merged = _merge_meta(inline, extra, str(path)) if extra is not None else inline
    panel = Panel(
        scores, merged, scale=scale, name=name or Path(path).name,
        sources=_sources(path, meta if not isinstance(meta, pd.DataFrame) else None),
    )
    if targets:
        panel = panel.with_targets(target_frame, warn=warn)
    return _finish(panel, warn)


def read_long_csv(
    path: str | Path,
    *,
    scale: float = 1.0,
    meta: str | Path | pd.DataFrame | None = None,
    model_column: str = "model",
    benchmark_column: str = "benchmark",
    score_column: str = "score",
    stderr_column: str = "stderr",
    name: str | None = None,
    warn: bool = True,
) -> Panel:
    """Read a tidy CSV with one row per (model, benchmark): ``model, benchmark, score[, stderr]``.

    Metadata columns (``family``, ``params_b``, ...) may appear on the rows
    (one value per model) or come from ``meta``.
    """
    frame = _read_csv(path)
    needed = [model_column, benchmark_column, score_column]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise DataError(f"{path}: missing columns {absent} (a long CSV needs {needed}, optionally {stderr_column!r})")
    key = frame[[model_column, benchmark_column]]
    dup = key[key.duplicated(keep=False)].drop_duplicates()
    if len(dup):
        raise DataValidationError(
            [Problem(f"model {m!r}, benchmark {b!r} appears on more than one row (one score per pair)", model=m, column=b)
             for m, b in dup.itertuples(index=False)],
            source=str(path),
        )
    scores = frame.pivot(index=model_column, columns=benchmark_column, values=score_column)
    order = pd.unique(frame[model_column])
    scores = scores.reindex(index=order, columns=pd.unique(frame[benchmark_column]))
    stderr = None
    if stderr_column in frame.columns:
        stderr = frame.pivot(index=model_column, columns=benchmark_column, values=stderr_column)
        stderr = stderr.reindex(index=scores.index, columns=scores.columns)
    rest = frame.drop(columns=[benchmark_column, score_column] + ([stderr_column] if stderr is not None else []))
    inline = _per_model_meta(rest, model_column, path)
    extra = _as_meta_frame(meta)
    merged = _merge_meta(inline, extra, str(path)) if extra is not None else inline
    panel = Panel(
        scores, merged if merged.shape[1] else None,
        stderr=stderr, scale=scale, name=name or Path(path).name,
        sources=_sources(path, meta if not isinstance(meta, pd.DataFrame) else None),
    )
    return _finish(panel, warn)


def _per_model_meta(rest: pd.DataFrame, model_column: str, path: str | Path) -> pd.DataFrame:
    meta, _ = split_meta(rest.set_index(model_column))
    if meta.shape[1] == 0:
        return pd.DataFrame(index=pd.Index(pd.unique(rest[model_column]), name="model"))
    problems = []
    for column in meta.columns:
        counts = meta[column].groupby(level=0).nunique()
        for model in counts[counts > 1].index:
            values = sorted(map(str, meta.loc[[model], column].dropna().unique()))
            problems.append(Problem(f"model {model!r} has different {column!r} values on its rows: {values}",
                                    model=model, column=column))
    if problems:
        raise DataValidationError(problems, source=str(path))
    return meta.groupby(level=0, sort=False).first()


_TIMESTAMP = re.compile(r"results_(.+)\.json$")


def _newest_result(folder: Path) -> Path | None:
    files = sorted(folder.glob("results_*.json"), key=lambda p: _TIMESTAMP.search(p.name).group(1))
    return files[-1] if files else None


def _metric_value(results: dict, task: str, metric: str, model: str, path: Path) -> tuple[float, float]:
    entry = results.get(task)
    if entry is None:
        return np.nan, np.nan
    key = metric if "," in metric else f"{metric},none"
    if key not in entry:
        available = sorted(k for k in entry if not k.startswith("alias") and "stderr" not in k)
        raise DataError(
            f"model {model!r}, task {task!r}: metric {key!r} not in {path.name} (available: {available})"
        )
    name, _, filt = key.partition(",")
    stderr = entry.get(f"{name}_stderr,{filt}", np.nan)
    value = entry[key]
    return value, (np.nan if stderr in ("N/A", None) else stderr)


def read_lm_eval(
    directory: str | Path,
    *,
    metrics: Mapping[str, str] | str,
    scale: float = 1.0,
    meta: str | Path | pd.DataFrame | None = None,
    name: str | None = None,
    warn: bool = True,
) -> Panel:
    """Read lm-evaluation-harness output: ``<directory>/<org__model>/results_<timestamp>.json``.

    Parameters
    ----------
    metrics : task -> metric key to take as the benchmark score, e.g.
        ``{"arc_challenge": "acc_norm,none", "mmlu": "acc,none"}`` (a key
        without a filter means ``",none"``); or one metric for every task.
        The task name becomes the benchmark name.
    meta : metadata CSV or frame joined by model id (``org/model``).

    The newest results file per model wins. A stderr of ``"N/A"`` is missing.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"no such directory: {str(directory)!r} (expected lm-eval-harness output)")
    picked = {}
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        newest = _newest_result(folder)
        if newest is not None:
            picked[folder.name.replace("__", "/", 1)] = newest
    if not picked:
        raise DataError(f"{directory}: no <org__model>/results_<timestamp>.json files found")
    scores, stderr = {}, {}
    for model, path in picked.items():
        try:
            results = json.loads(path.read_text())["results"]
        except (json.JSONDecodeError, KeyError) as err:
            raise DataError(f"{path}: not an lm-eval results file ({err!r}; expected a 'results' object)") from err
        tasks = {t: metrics for t in results} if isinstance(metrics, str) else dict(metrics)
        scores[model], stderr[model] = {}, {}
        for task, metric in tasks.items():
            scores[model][task], stderr[model][task] = _metric_value(results, task, metric, model, path)
    columns = list(metrics) if not isinstance(metrics, str) else None
    score_frame = pd.DataFrame.from_dict(scores, orient="index", columns=columns, dtype=object)
    stderr_frame = pd.DataFrame.from_dict(stderr, orient="index", columns=columns, dtype=object)
    panel = Panel(
        score_frame, _as_meta_frame(meta), stderr=stderr_frame, scale=scale, name=name or directory.name,
        sources={**_sources(*picked.values()), **_sources(meta if not isinstance(meta, pd.DataFrame) else None)},
    )
    return _finish(panel, warn)


def read_targets_csv(path: str | Path, *, columns: list[str] | None = None, model_column: str | None = None) -> pd.DataFrame:
    """Downstream metrics by model from a CSV (every non-model column, or ``columns``); join with ``Panel.with_targets``."""
    frame = _read_csv(path)
    frame = _index_by_model(frame, _model_column(frame, path, model_column), path)
    _, rest = split_meta(frame)
    if columns is not None:
        missing = [c for c in columns if c not in rest.columns]
        if missing:
            raise ConfigError(f"target columns {missing} are not in {path} (columns: {list(rest.columns)})")
        rest = rest[columns]
    return rest


def read_panel(
    path: str | Path,
    *,
    scale: float = 1.0,
    meta: str | Path | None = None,
    metrics: Mapping[str, str] | str | None = None,
    warn: bool = True,
) -> Panel:
    """Read any supported source: an lm-eval directory, a long CSV (``model, benchmark, score``) or a wide CSV."""
    path = Path(path)
    if path.is_dir():
        if metrics is None:
            raise ConfigError(
                f"{path} is a directory of lm-eval results: say which metric to take per task "
                "(metrics={'arc_challenge': 'acc_norm,none', ...}; on the command line --metric TASK=METRIC)"
            )
        return read_lm_eval(path, metrics=metrics, scale=scale, meta=meta, warn=warn)
    header = [c.strip().lower() for c in _read_csv(path).columns]
    if {"model", "benchmark", "score"} <= set(header):
        return read_long_csv(path, scale=scale, meta=meta, warn=warn)
    return read_wide_csv(path, scale=scale, meta=meta, warn=warn)
