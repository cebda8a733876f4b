"""The Panel: validated benchmark scores of many models plus their metadata.

A :class:`Panel` holds

- ``scores``: models x benchmarks, fractions in [0, 1], NaN where missing;
- ``stderr``: optional standard errors of those scores, same shape;
- ``meta``: per model ``family``, ``params_b`` (billions of parameters),
  ``tokens_t`` (trillions of training tokens), ``flops`` (training FLOPs),
  ``flops_source`` (``reported`` | ``6ND`` | ``missing``) and ``log10_flops``;
- ``targets``: downstream metrics joined by model (emergent tasks, CoT, agents).

It is immutable: every selection returns a new Panel. Construction validates
everything and raises :class:`~osltools.exceptions.DataValidationError`
listing every problem (model, column, bad value, what is accepted); implausible
but valid metadata is listed in :attr:`Panel.plausibility` instead.
File readers live in :mod:`osltools.readers`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .exceptions import (
    ConfigError,
    DataValidationError,
    JoinWarning,
    PlausibilityWarning,
    Problem,
)
from .immutable import ImmutableSlots
from .summary import Summary

META_COLUMNS = ("family", "params_b", "tokens_t", "flops", "flops_source", "log10_flops")
NUMERIC_META = ("params_b", "tokens_t", "flops")

#: Tokens per parameter outside this range are flagged as implausible. Real
#: public models span about 2 (BLOOM-176B) to a few 10^4 (small models trained
#: on 10T+ tokens); 10^5 leaves room for that and still catches unit slips
#: (trillions recorded as billions gives a factor of 1000).
TOKENS_PER_PARAM_RANGE = (1.0, 1.0e5)
#: Reported FLOPs further than this factor from 6*N*D are flagged.
FLOPS_RATIO_LIMIT = 2.0


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)


def coerce_numeric(frame: pd.DataFrame, *, what: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Convert every column to float; non-numeric cells become problems naming model and column."""
    problems: list[Problem] = []
    out = {}
    for column in frame.columns:
        raw = frame[column]
        numeric = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = raw.notna() & numeric.isna()
        for model, value in raw[bad].items():
            problems.append(
                Problem(
                    f"model {model!r}, {what} {column!r}: value {value!r} is not a number "
                    "(expected a number, or an empty cell for missing)",
                    model=str(model),
                    column=str(column),
                )
            )
        out[column] = numeric.to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(out, index=frame.index, columns=frame.columns), problems


def _check_index(index: pd.Index, *, what: str) -> list[Problem]:
    problems = []
    if index.isna().any():
        problems.append(Problem(f"{what}: a row has no model id (expected a non-empty model name)"))
    for model in index[index.duplicated()].unique():
        problems.append(
            Problem(f"model {model!r} appears more than once in {what} (model ids must be unique)", model=str(model))
        )
    return problems


def _check_scores(scores: pd.DataFrame, *, present: pd.DataFrame | None = None) -> list[Problem]:
    """Range of every score, and benchmarks / models without any value (``present``: non-empty input cells)."""
    problems = []
    present = scores.notna() if present is None else present
    if scores.columns.duplicated().any():
        dup = sorted(set(scores.columns[scores.columns.duplicated()]))
        problems.append(Problem(f"benchmark columns appear twice: {dup} (column names must be unique)"))
    values = scores.to_numpy(dtype=float, na_value=np.nan)
    bad = np.argwhere((values < 0) | (values > 1))
    for i, j in bad:
        model, column, value = scores.index[i], scores.columns[j], values[i, j]
        problems.append(
            Problem(
                f"model {model!r}, benchmark {column!r}: score {value:g} is outside [0, 1] "
                "(scores must be fractions; for percent-scale data pass scale=100)",
                model=str(model),
                column=str(column),
            )
        )
    for column in scores.columns[~present.any(axis=0)]:
        problems.append(
            Problem(
                f"benchmark {column!r} has no value for any model (drop the column or fill it)",
                column=str(column),
            )
        )
    for model in scores.index[~present.any(axis=1)]:
        problems.append(
            Problem(
                f"model {model!r} has no benchmark score at all (every model needs at least one)",
                model=str(model),
            )
        )
    return problems


def _check_meta(meta: pd.DataFrame) -> list[Problem]:
    problems = []
    for column in NUMERIC_META:
        values = meta[column]
        for model, value in values[values <= 0].items():
            problems.append(
                Problem(
                    f"model {model!r}, {column!r}: value {value:g} is not positive "
                    "(sizes, token counts and FLOPs must be > 0, or empty if unknown)",
                    model=str(model),
                    column=column,
                )
            )
    return problems


def _check_stderr(stderr: pd.DataFrame) -> list[Problem]:
    problems = []
    values = stderr.to_numpy(dtype=float, na_value=np.nan)
    for i, j in np.argwhere(values < 0):
        problems.append(
            Problem(
                f"model {stderr.index[i]!r}, stderr of {stderr.columns[j]!r}: value {values[i, j]:g} is negative "
                "(standard errors must be >= 0)",
                model=str(stderr.index[i]),
                column=str(stderr.columns[j]),
            )
        )
    return problems


def derive_compute(meta: pd.DataFrame) -> pd.DataFrame:
    """Add ``flops_source`` and ``log10_flops``; fill ``flops`` by 6*N*D where not reported.

    ``params_b`` is in billions and ``tokens_t`` in trillions, so
    6 * N * D = 6 * params_b * 1e9 * tokens_t * 1e12.
    """
    out = meta.copy()
    reported = out["flops"].notna()
    six_nd = 6.0 * out["params_b"] * 1e9 * out["tokens_t"] * 1e12
    out["flops"] = out["flops"].where(reported, six_nd)
    source = np.where(reported, "reported", np.where(out["flops"].notna(), "6ND", "missing"))
    out["flops_source"] = pd.Series(source, index=out.index, dtype="str")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["log10_flops"] = np.log10(out["flops"].where(out["flops"] > 0))
    return out


def plausibility_checks(meta: pd.DataFrame) -> pd.DataFrame:
    """Valid but implausible metadata: one row per flag (check, model, family, column, value, message)."""
    rows = []
    lo, hi = TOKENS_PER_PARAM_RANGE
    tpp = meta["tokens_t"] * 1e3 / meta["params_b"]
    for model, value in tpp[(tpp < lo) | (tpp > hi)].items():
        rows.append(
            ("tokens_per_param", model, "tokens_t", value,
             f"model {model!r}: {meta.at[model, 'tokens_t']:g}T tokens for {meta.at[model, 'params_b']:g}B "
             f"parameters is {value:.3g} tokens per parameter, outside the plausible range [{lo:g}, {hi:g}] "
             "(check the units of size and tokens)")
        )
    reported = meta["flops_source"] == "reported"
    six_nd = 6.0 * meta["params_b"] * 1e9 * meta["tokens_t"] * 1e12
    ratio = (meta["flops"] / six_nd).where(reported)
    off = (ratio > FLOPS_RATIO_LIMIT) | (ratio < 1 / FLOPS_RATIO_LIMIT)
    for model, value in ratio[off].items():
        rows.append(
            ("flops_vs_6nd", model, "flops", value,
             f"model {model!r}: reported FLOPs {meta.at[model, 'flops']:.3g} differ from 6*N*D = "
             f"{six_nd[model]:.3g} by a factor of {max(value, 1 / value):.3g} (more than {FLOPS_RATIO_LIMIT:g})")
        )
    sizes = meta["family"].value_counts()
    for family in sorted(sizes[sizes == 1].index):
        model = meta.index[meta["family"] == family][0]
        rows.append(
            ("single_model_family", model, "family", 1.0,
             f"family {family!r} has one model ({model!r}): no within-family scaling can be estimated for it")
        )
    frame = pd.DataFrame(rows, columns=["check", "model", "column", "value", "message"])
    frame.insert(2, "family", [meta.at[m, "family"] for m in frame["model"]])
    return frame


@dataclass(frozen=True)
class JoinReport:
    """What a join by model matched and what it could not match."""

    what: str
    n_matched: int
    only_in_panel: tuple[str, ...] = field(default_factory=tuple)
    only_in_other: tuple[str, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        return not self.only_in_panel and not self.only_in_other

    def describe(self, limit: int = 5) -> str:
        def names(items: tuple[str, ...]) -> str:
            shown = ", ".join(items[:limit])
            return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")

        parts = [f"{self.what}: {self.n_matched} models matched"]
        if self.only_in_other:
            parts.append(f"{len(self.only_in_other)} in {self.what} but not in the panel: {names(self.only_in_other)}")
        if self.only_in_panel:
            parts.append(f"{len(self.only_in_panel)} panel models have no row in {self.what}: {names(self.only_in_panel)}")
        return "; ".join(parts)


def _normalise_meta(meta: pd.DataFrame | None, index: pd.Index) -> tuple[pd.DataFrame, list[Problem]]:
    base = pd.DataFrame(index=index)
    meta = pd.DataFrame(index=index) if meta is None else meta
    problems = _check_index(meta.index, what="metadata")
    if problems:
        return base, problems
    meta = meta.reindex(index)
    family = meta["family"] if "family" in meta else pd.Series(pd.NA, index=index)
    base["family"] = family.astype("str")
    present = [c for c in NUMERIC_META if c in meta]
    numeric, problems = coerce_numeric(meta[present], what="metadata column")
    for column in NUMERIC_META:
        base[column] = numeric[column] if column in numeric else np.nan
    extra = [c for c in meta.columns if c not in META_COLUMNS]
    for column in extra:
        base[column] = meta[column]
    return base, problems


class Panel(ImmutableSlots):
    """Benchmark scores of models with their metadata and downstream targets.

    Parameters
    ----------
    scores : DataFrame
        Models (index: model id) x benchmarks, fractions in [0, 1] after
        dividing by ``scale``; NaN for missing cells.
    meta : DataFrame, optional
        Indexed by model id, with any of ``family``, ``params_b`` (billions),
        ``tokens_t`` (trillions), ``flops`` (training FLOPs). ``flops`` is
        derived as 6*N*D where not reported.
    stderr : DataFrame, optional
        Standard errors of the scores (same scale as ``scores``).
    targets : DataFrame, optional
        Downstream metrics by model; rows for models not in ``scores`` are
        reported in ``join_reports`` and left out.
    scale : float
        Divide scores (and stderr) by this; ``100`` for percentages.
    name : str, optional
        A label shown in summaries.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"MMLU": [0.3, 0.6], "ARC-C": [0.4, 0.7]}, index=["a", "b"])
    >>> meta = pd.DataFrame({"family": ["F", "F"], "params_b": [1.0, 7.0], "tokens_t": [1.0, 2.0]}, index=["a", "b"])
    >>> Panel(scores, meta).n_models
    2
    """

    _immutable_hint = ": use select(), drop() or with_targets() to get a new one"
    __slots__ = ("_scores", "_stderr", "_meta", "_targets", "_name", "_join_reports", "_plausibility", "_sources")

    def __init__(
        self,
        scores: pd.DataFrame,
        meta: pd.DataFrame | None = None,
        *,
        stderr: pd.DataFrame | None = None,
        targets: pd.DataFrame | None = None,
        scale: float = 1.0,
        name: str | None = None,
        sources: Mapping[str, str] | None = None,
    ):
        if not np.isfinite(scale) or scale <= 0:
            raise ConfigError(f"scale={scale!r} is not accepted (expected a positive number, e.g. 1 or 100)")
        scores = pd.DataFrame(scores).copy()
        scores.index = pd.Index([str(m) if pd.notna(m) else m for m in scores.index], name="model", dtype=object)
        scores.columns = pd.Index([str(c) for c in scores.columns], name="benchmark")
        problems = _check_index(scores.index, what="the scores")
        numeric, bad = coerce_numeric(scores, what="benchmark")
        problems += bad
        numeric = numeric / scale
        problems += _check_scores(numeric, present=scores.notna())
        meta_frame, bad = _normalise_meta(meta, numeric.index) if not problems else (None, [])
        problems += bad
        if meta_frame is not None and not bad:
            problems += _check_meta(meta_frame)
        stderr_frame = None
        if stderr is not None and not problems:
            stderr_frame, bad = coerce_numeric(pd.DataFrame(stderr).reindex(index=numeric.index, columns=numeric.columns), what="stderr of")
            stderr_frame = stderr_frame / scale
            problems += bad or _check_stderr(stderr_frame)
        if problems:
            raise DataValidationError(problems, source=name)
        reports: list[JoinReport] = []
        if meta is not None:
            extra = tuple(str(m) for m in meta.index if str(m) not in set(numeric.index))
            missing = tuple(m for m in numeric.index if m not in set(map(str, meta.index)))
            report = JoinReport("metadata", len(numeric) - len(missing), missing, extra)
            if not report.complete:
                reports.append(report)
        self._init(numeric, derive_compute(meta_frame), stderr_frame, None, name, tuple(reports), dict(sources or {}))
        if targets is not None:
            joined = self.with_targets(targets, warn=False)
            object.__setattr__(self, "_targets", joined._targets)
            object.__setattr__(self, "_join_reports", joined._join_reports)

    # ------------------------------------------------------------------ internals
    def _init(self, scores, meta, stderr, targets, name, join_reports, sources) -> None:
        setter = object.__setattr__
        setter(self, "_scores", scores)
        setter(self, "_meta", meta)
        setter(self, "_stderr", stderr)
        setter(self, "_targets", targets if targets is not None else pd.DataFrame(index=scores.index))
        setter(self, "_name", name)
        setter(self, "_join_reports", join_reports)
        setter(self, "_sources", sources)
        setter(self, "_plausibility", None)  # computed when first read (resampling makes many Panels)

    def _replace(self, **parts) -> Panel:
        new = object.__new__(Panel)
        current = {
            "scores": self._scores, "meta": self._meta, "stderr": self._stderr, "targets": self._targets,
            "name": self._name, "join_reports": self._join_reports, "sources": self._sources,
        }
        current.update(parts)
        new._init(**current)
        return new

    # ------------------------------------------------------------------ views
    @property
    def scores(self) -> pd.DataFrame:
        """Models x benchmarks, fractions in [0, 1], NaN where missing."""
        return self._scores.copy(deep=False)

    @property
    def stderr(self) -> pd.DataFrame | None:
        """Standard errors of the scores, or None when the source had none."""
        return None if self._stderr is None else self._stderr.copy(deep=False)

    @property
    def meta(self) -> pd.DataFrame:
        """Per model: family, params_b, tokens_t, flops, flops_source, log10_flops (and extra columns)."""
        return self._meta.copy(deep=False)

    @property
    def targets(self) -> pd.DataFrame:
        """Downstream metrics by model (all panel models; NaN where a model has no value)."""
        return self._targets.copy(deep=False)

    @property
    def plausibility(self) -> pd.DataFrame:
        """Implausible but valid metadata, one row per flag."""
        if self._plausibility is None:
            object.__setattr__(self, "_plausibility", plausibility_checks(self._meta))
        return self._plausibility.copy(deep=False)

    @property
    def join_reports(self) -> tuple[JoinReport, ...]:
        """Joins (metadata, targets) that left models unmatched on either side."""
        return self._join_reports

    @property
    def sources(self) -> dict[str, str]:
        """Input files and their sha256, for reproducibility."""
        return dict(self._sources)

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def models(self) -> pd.Index:
        return self._scores.index

    @property
    def benchmarks(self) -> pd.Index:
        return self._scores.columns

    @property
    def target_names(self) -> pd.Index:
        return self._targets.columns

    @property
    def families(self) -> pd.Index:
        """The distinct families, sorted (missing family left out)."""
        return pd.Index(sorted(self._meta["family"].dropna().unique()), name="family")

    @property
    def n_models(self) -> int:
        return len(self._scores)

    @property
    def n_benchmarks(self) -> int:
        return self._scores.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        return self._scores.shape

    def __len__(self) -> int:
        return self.n_models

    def __repr__(self) -> str:
        label = f" {self._name!r}" if self._name else ""
        return (
            f"<Panel{label}: {self.n_models} models x {self.n_benchmarks} benchmarks, "
            f"{len(self.families)} families, {self._targets.shape[1]} targets>"
        )

    def frame(self) -> pd.DataFrame:
        """One wide frame (metadata, scores, targets) indexed by model, e.g. for formulas."""
        parts = [self._meta, self._scores, self._targets]
        seen: set[str] = set()
        for part in parts:
            clash = seen & set(part.columns)
            if clash:
                raise ConfigError(f"column names {sorted(clash)} are both metadata/benchmarks and targets; rename one")
            seen |= set(part.columns)
        return pd.concat(parts, axis=1)

    # ------------------------------------------------------------------ selection
    def _names(self, requested: Iterable[str] | str | None, known: pd.Index, what: str) -> list[str] | None:
        if requested is None:
            return None
        items = [requested] if isinstance(requested, str) else list(requested)
        unknown = [x for x in items if x not in known]
        if unknown:
            raise ConfigError(
                f"unknown {what} {unknown[:5]}{' ...' if len(unknown) > 5 else ''} "
                f"(known: {', '.join(map(str, known[:8]))}{' ...' if len(known) > 8 else ''})"
            )
        return items

    def select(
        self,
        models: Iterable[str] | None = None,
        *,
        benchmarks: Iterable[str] | None = None,
        families: Iterable[str] | None = None,
        targets: Iterable[str] | None = None,
    ) -> Panel:
        """A new Panel with only these models / benchmarks / families / targets (in the order given)."""
        rows = self._names(models, self.models, "models")
        fams = self._names(families, self.families, "families")
        cols = self._names(benchmarks, self.benchmarks, "benchmarks")
        tcols = self._names(targets, self.target_names, "targets")
        index = self.models if rows is None else pd.Index(rows, name="model")
        if fams is not None:
            index = index[self._meta.loc[index, "family"].isin(fams).to_numpy()]
        if index.duplicated().any():
            raise ConfigError(f"models selected twice: {sorted(set(index[index.duplicated()]))}")
        cols = self.benchmarks if cols is None else pd.Index(cols, name="benchmark")
        tcols = self.target_names if tcols is None else pd.Index(tcols)
        scores = self._scores.loc[index, cols]
        problems = _check_scores(scores) if len(index) else [Problem("the selection has no model")]
        if problems:
            raise DataValidationError(problems, source="selection")
        stderr = None if self._stderr is None else self._stderr.loc[index, cols]
        return self._replace(
            scores=scores, meta=self._meta.loc[index], stderr=stderr, targets=self._targets.loc[index, tcols]
        )

    def resample(self, positions: Iterable[int] | np.ndarray) -> Panel:
        """A new Panel with the models at these integer positions, repeats allowed (bootstrap samples).

        A model drawn k times appears as ``"<model>"``, ``"<model>#2"``, ...,
        ``"<model>#k"`` in order of appearance; metadata, targets and standard
        errors are carried along, and the metadata column ``source_model`` keeps
        the original model id (kept through resamples of resamples). Validation
        is re-run: a benchmark with no observed value in the resample raises
        :class:`~osltools.exceptions.DataValidationError`.

        Examples
        --------
        >>> import pandas as pd
        >>> panel = Panel(pd.DataFrame({"MMLU": [0.3, 0.6]}, index=["a", "b"]))
        >>> list(panel.resample([1, 1, 0]).models)
        ['b', 'b#2', 'a']
        """
        pos = np.asarray(list(positions) if not isinstance(positions, np.ndarray) else positions)
        valid = pos.ndim == 1 and pos.size > 0 and pos.dtype.kind in "iu"
        if not valid or pos.min() < 0 or pos.max() >= self.n_models:
            raise ConfigError(
                f"positions={positions!r} is not accepted (expected a non-empty 1-D sequence of integer "
                f"positions in [0, {self.n_models - 1}])"
            )
        pos = pos.astype(np.intp)
        source = self._meta["source_model"] if "source_model" in self._meta else pd.Series(self.models, self.models)
        drawn = pd.Series(self.models[pos])
        repeat = drawn.groupby(drawn, sort=False).cumcount() + 1
        index = pd.Index([m if k == 1 else f"{m}#{k}" for m, k in zip(drawn, repeat)], name="model", dtype=object)

        def take(frame: pd.DataFrame) -> pd.DataFrame:
            out = frame.iloc[pos]
            out.index = index
            return out

        meta = take(self._meta).assign(source_model=source.iloc[pos].to_numpy())
        scores = take(self._scores)
        problems = _check_index(index, what="the resample") + _check_scores(scores)
        if problems:
            raise DataValidationError(problems, source="resample")
        stderr = None if self._stderr is None else take(self._stderr)
        return self._replace(scores=scores, meta=meta, stderr=stderr, targets=take(self._targets))

    def drop(self, models: Iterable[str] | None = None, *, benchmarks: Iterable[str] | None = None) -> Panel:
        """A new Panel without these models / benchmarks."""
        rows = self._names(models, self.models, "models") or []
        cols = self._names(benchmarks, self.benchmarks, "benchmarks") or []
        return self.select(
            [m for m in self.models if m not in set(rows)], benchmarks=[b for b in self.benchmarks if b not in set(cols)]
        )

    def with_targets(
        self,
        targets: pd.DataFrame,
        *,
        scale: float | Mapping[str, float] = 1.0,
        sources: Mapping[str, str] | None = None,
        label: str | None = None,
        warn: bool = True,
    ) -> Panel:
        """Join downstream metrics by model; unmatched models are reported (``join_reports``), never silently lost.

        ``scale`` divides every column (or the columns named in a mapping), e.g.
        ``{"ipa_transliterate_2_bleu": 100}``. Existing targets of the same
        name are replaced. ``sources`` (file -> sha256) is recorded for reproducibility;
        ``label`` names the targets in the join report (e.g. their file name).
        """
        frame = pd.DataFrame(targets).copy()
        frame.index = pd.Index([str(m) for m in frame.index], name="model")
        problems = _check_index(frame.index, what="the targets")
        numeric, bad = coerce_numeric(frame, what="target")
        problems += bad
        scales = dict.fromkeys(numeric.columns, scale) if np.isscalar(scale) else dict(scale)
        unknown = [c for c in scales if c not in numeric.columns]
        if unknown:
            problems.append(Problem(f"scale given for unknown target columns {unknown}"))
        if problems:
            raise DataValidationError(problems, source="targets")
        for column, factor in scales.items():
            numeric[column] = numeric[column] / float(factor)
        matched = numeric.index.intersection(self.models)
        report = JoinReport(
            label or f"targets ({numeric.shape[1]} columns)",
            len(matched),
            tuple(m for m in self.models if m not in set(numeric.index)),
            tuple(m for m in numeric.index if m not in set(self.models)),
        )
        if warn and not report.complete:
            warnings.warn(report.describe(), JoinWarning, stacklevel=2)
        kept = self._targets.drop(columns=[c for c in numeric.columns if c in self._targets.columns])
        joined = pd.concat([kept, numeric.reindex(self.models)], axis=1)
        reports = self._join_reports + ((report,) if not report.complete else ())
        return self._replace(targets=joined, join_reports=reports, sources={**self._sources, **(sources or {})})

    def rename_targets(self, mapping: Mapping[str, str]) -> Panel:
        """A new Panel with targets renamed (e.g. long lm-eval names to formula-friendly ones)."""
        self._names(list(mapping), self.target_names, "targets")
        return self._replace(targets=self._targets.rename(columns=dict(mapping)))

    # ------------------------------------------------------------------ descriptions
    def missingness(self) -> pd.DataFrame:
        """Per benchmark: observed and missing cells and the share missing."""
        n_obs = self._scores.notna().sum()
        return pd.DataFrame(
            {"observed": n_obs, "missing": self.n_models - n_obs, "share_missing": 1 - n_obs / self.n_models}
        )

    def coverage(self) -> pd.DataFrame:
        """How many models have each piece of metadata."""
        meta = self._meta
        rows = {
            "family": meta["family"].notna().sum(),
            "params_b": meta["params_b"].notna().sum(),
            "tokens_t": meta["tokens_t"].notna().sum(),
            "flops (reported)": (meta["flops_source"] == "reported").sum(),
            "flops (6ND)": (meta["flops_source"] == "6ND").sum(),
            "flops (missing)": (meta["flops_source"] == "missing").sum(),
        }
        frame = pd.DataFrame({"models": pd.Series(rows, dtype=int)})
        frame["share"] = frame["models"] / self.n_models
        return frame

    def summary(self) -> Summary:
        header = {
            "Models": self.n_models,
            "Families": len(self.families),
            "Benchmarks": self.n_benchmarks,
            "Targets": self._targets.shape[1],
            "Missing cells": int(self._scores.isna().sum().sum()),
        }
        tables = [("Missingness per benchmark", self.missingness()), ("Metadata coverage", self.coverage())]
        notes = [str(m) for m in self.plausibility["message"]]
        notes += [r.describe() for r in self._join_reports]
        return Summary(f"Panel {self._name or ''}".strip(), header, tables, notes)

    def __str__(self) -> str:
        return self.summary().as_text()

    def warn_plausibility(self) -> None:
        """Emit one :class:`PlausibilityWarning` listing every plausibility flag (readers call this)."""
        flags = self.plausibility
        if len(flags):
            lines = "\n".join(f"  - {m}" for m in flags["message"])
            warnings.warn(
                f"{len(flags)} plausibility flags in {self._name or 'the panel'}:\n{lines}",
                PlausibilityWarning,
                stacklevel=3,
            )
