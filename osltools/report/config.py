"""What a report covers: the TOML configuration of ``osl report``.

A configuration names the data, the targets (each with its split and law),
the interventions, the reference family, K, the bootstrap size and the seed.
Every key is optional; command-line flags override the file, which overrides
the defaults below. Example (``analyses/paper.toml`` is a complete one)::

    title = "Emergent capabilities"
    dataset = "obsscaling-base"           # or give PATH / --dataset on the command line
    model_set = "main"                    # the paper's 77 models
    join = ["obsscaling-emergent"]        # attach these datasets' targets, by model
    targets_files = ["my_targets.csv"]    # or your own target CSVs (model column + targets)
    reference_family = "Llama-2"
    k = 3                                 # or "auto": the cross-validated recommendation
    bootstrap = 200
    seed = 0
    # defaults for every target:
    cutoff = 8.4e22                       # training FLOPs of the last training model
    bounds = "floor"
    loss = "linear"
    predictors = ["pcs:1", "pcs:2", "pcs:3", "pcs:4", "flops", "size"]

    [[targets]]
    name = "arithmetic_3ds_2_acc"
    label = "3-digit subtraction"
    cutoff = 2.2e22
    exclude_from_pca = ["GSM8K"]

    [[targets]]                           # a PC-1 split instead of a compute cutoff:
    name = "ABoard-Avg_PR"
    holdout_top = 0.2                     # the top 20% of models by PC-1 are held out

    [interventions]                       # gap curves of post-training interventions
    base = "gsm8k_5"
    arms = { CoT = "gsm8k_cot", "CoT+SC" = "gsm8k_cot_sc" }
    loss = "huber"

Targets may also be plain names: ``targets = ["emergent_task", "base_task"]``.
Paths in ``targets_files`` are relative to the configuration file.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError
from ..law import BOUNDS, LOSSES
from ..validation import DEFAULT_CUTOFF, PREDICTORS, parse_predictor

__all__ = ["TargetSpec", "InterventionSpec", "ReportConfig", "load_config"]

#: Bootstrap size of a report unless configured (the demo uses :data:`DEMO_BOOTSTRAP`).
DEFAULT_BOOTSTRAP = 200
DEMO_BOOTSTRAP = 50


def _where(source: str | None, key: str) -> str:
    return f"{source}: {key}" if source else key


def _expect(value: Any, kind: type | tuple[type, ...], key: str, source: str | None, accepted: str) -> Any:
    if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ConfigError(f"{_where(source, key)} = {value!r} is not accepted (expected {accepted})")
    if not isinstance(value, kind):
        raise ConfigError(f"{_where(source, key)} = {value!r} is not accepted (expected {accepted})")
    return value


def _strings(value: Any, key: str, source: str | None) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    _expect(value, (list, tuple), key, source, "a list of strings")
    for item in value:
        _expect(item, str, key, source, "a list of strings")
    return tuple(value)


def _unknown_keys(table: Mapping[str, Any], known: Sequence[str], where: str, source: str | None) -> None:
    unknown = [k for k in table if k not in known]
    if unknown:
        raise ConfigError(f"{_where(source, where)}: unknown key {unknown[0]!r} (known keys: {', '.join(known)})")


def _positive_number(value: Any, key: str, source: str | None, accepted: str) -> float:
    _expect(value, (int, float), key, source, accepted)
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{_where(source, key)} = {value!r} is not accepted (expected {accepted})")
    return float(value)


# ---------------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class TargetSpec:
    """One target of the report: its split (compute cutoff or top PC-1 share) and its law.

    ``holdout_top`` (a share in (0, 1)) holds out that share of models with
    the highest PC-1 instead of using the compute cutoff.
    """

    name: str
    label: str | None = None
    cutoff: float = DEFAULT_CUTOFF
    holdout_top: float | None = None
    bounds: str = "floor"
    loss: str = "linear"
    exclude_from_pca: tuple[str, ...] = ()
    predictors: tuple[str, ...] = PREDICTORS

    @property
    def title(self) -> str:
        return self.label or self.name

    def check(self, source: str | None = None) -> TargetSpec:
        where = f"targets[{self.name!r}]"
        if self.bounds not in BOUNDS:
            raise ConfigError(f"{_where(source, where)}.bounds = {self.bounds!r} is not accepted "
                              f"(expected one of {', '.join(map(repr, BOUNDS))})")
        if self.loss not in LOSSES:
            raise ConfigError(f"{_where(source, where)}.loss = {self.loss!r} is not accepted "
                              f"(expected one of {', '.join(map(repr, LOSSES))})")
        _positive_number(self.cutoff, f"{where}.cutoff", source, "training FLOPs > 0, e.g. 8.4e22")
        if self.holdout_top is not None and not (isinstance(self.holdout_top, (int, float)) and 0 < self.holdout_top < 1):
            raise ConfigError(f"{_where(source, where)}.holdout_top = {self.holdout_top!r} is not accepted "
                              "(expected a share of models in (0, 1), e.g. 0.2)")
        for predictor in self.predictors:
            parse_predictor(predictor)
        return self


@dataclass(frozen=True)
class InterventionSpec:
    """Post-training interventions: a base metric and the intervened metrics, by label."""

    base: str
    arms: tuple[tuple[str, str], ...]  # (label, target column)
    bounds: str = "floor"
    loss: str = "huber"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.base, *(column for _, column in self.arms))


_TARGET_KEYS = ("name", "label", "cutoff", "holdout_top", "bounds", "loss", "exclude_from_pca", "predictors")
_DEFAULT_KEYS = ("cutoff", "bounds", "loss", "predictors", "exclude_from_pca")
_INTERVENTION_KEYS = ("base", "arms", "bounds", "loss")


@dataclass(frozen=True)
class ReportConfig:
    """Everything a report covers; see the module docstring for the TOML form.

    ``k=None`` means the cross-validated recommendation of
    :func:`~osltools.dimension.select_n_components` (``"auto"`` in TOML).
    """

    title: str | None = None
    dataset: str | None = None
    model_set: str | None = None
    join: tuple[str, ...] = ()
    targets_files: tuple[str, ...] = ()
    targets: tuple[TargetSpec, ...] = ()
    interventions: InterventionSpec | None = None
    reference_family: str | None = None
    k: int | None = 3
    bootstrap: int = DEFAULT_BOOTSTRAP
    seed: int = 0
    alpha: float = 0.05
    n_jobs: int = 1
    defaults: Mapping[str, Any] = field(default_factory=dict)  # top-level per-target settings (cutoff, bounds, ...)
    source: str | None = field(default=None, compare=False)  # the file it came from, for messages

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], *, source: str | None = None, base: Path | None = None,
                     start: ReportConfig | None = None) -> ReportConfig:
        """Build and check a configuration from parsed TOML.

        ``base`` is the folder relative paths start from; keys the table does not
        set keep their values in ``start`` (default: the defaults).
        """
        known = [f.name for f in fields(cls) if f.name not in ("source", "defaults")] + list(_DEFAULT_KEYS)
        _unknown_keys(table, known, "top level", source)
        defaults = {k: table[k] for k in _DEFAULT_KEYS if k in table}
        values: dict[str, Any] = {"source": source, "defaults": {**(start.defaults if start else {}), **defaults}}
        for key in ("title", "dataset", "model_set", "reference_family"):
            if key in table:
                values[key] = _expect(table[key], str, key, source, "a string")
        if "join" in table:
            values["join"] = _strings(table["join"], "join", source)
        if "targets_files" in table:
            files = _strings(table["targets_files"], "targets_files", source)
            values["targets_files"] = tuple(str((base / f) if base and not Path(f).is_absolute() else f) for f in files)
        if "k" in table:
            values["k"] = _k(table["k"], source)
        for key, accepted in (("bootstrap", "an integer >= 0 (0: no bootstrap)"), ("seed", "an integer >= 0"),
                              ("n_jobs", "an integer >= 1")):
            if key in table:
                value = _expect(table[key], int, key, source, accepted)
                if value < (1 if key == "n_jobs" else 0):
                    raise ConfigError(f"{_where(source, key)} = {value!r} is not accepted (expected {accepted})")
                values[key] = value
        if "alpha" in table:
            alpha = _expect(table["alpha"], (int, float), "alpha", source, "a number in (0, 1), e.g. 0.05")
            if not 0 < alpha < 1:
                raise ConfigError(f"{_where(source, 'alpha')} = {alpha!r} is not accepted (expected a number in (0, 1))")
            values["alpha"] = float(alpha)
        if "targets" in table:
            items = table["targets"]
            _expect(items, list, "targets", source, "a list of target names or [[targets]] tables")
            values["targets"] = tuple(_target(item, defaults, source) for item in items)
            names = [t.name for t in values["targets"]]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ConfigError(f"{_where(source, 'targets')}: {twice[0]!r} is listed twice")
        if "interventions" in table:
            values["interventions"] = _interventions(table["interventions"], source)
        return replace(start, **values) if start is not None else cls(**values)

    def with_targets(self, names: Sequence[str]) -> ReportConfig:
        """This configuration with the targets replaced by ``names`` (keeping any per-target settings of the file)."""
        given = {t.name: t for t in self.targets}
        return replace(self, targets=tuple(given.get(n) or _target(n, self.defaults, self.source) for n in names))

    def override(self, **flags: Any) -> ReportConfig:
        """A copy with the flags that were given (not None) replacing the file's values."""
        unknown = [k for k in flags if k not in {f.name for f in fields(self)} - {"defaults", "source"}]
        if unknown:
            raise ConfigError(f"unknown report settings {unknown}")
        given = {k: v for k, v in flags.items() if v is not None}
        if "k" in given:
            given["k"] = _k(given["k"], "command line")
        return replace(self, **given)

    def as_toml(self) -> str:
        """The effective configuration, as TOML (shown in the report's methods section)."""
        lines = []
        for key in ("title", "dataset", "model_set", "reference_family"):
            value = getattr(self, key)
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
        for key in ("join", "targets_files"):
            if getattr(self, key):
                lines.append(f"{key} = {_toml_value(list(getattr(self, key)))}")
        lines.append(f"k = {_toml_value('auto' if self.k is None else self.k)}")
        for key in ("bootstrap", "seed", "alpha", "n_jobs"):
            lines.append(f"{key} = {_toml_value(getattr(self, key))}")
        for key, value in self.defaults.items():  # per-target defaults (for targets named on the command line)
            lines.append(f"{key} = {_toml_value(list(value) if isinstance(value, tuple) else value)}")
        for t in self.targets:
            lines += ["", "[[targets]]"]
            for key in _TARGET_KEYS:
                value = getattr(t, key)
                if value is not None:
                    lines.append(f"{key} = {_toml_value(list(value) if isinstance(value, tuple) else value)}")
        if self.interventions is not None:
            iv = self.interventions
            arms = ", ".join(f"{_toml_value(label)} = {_toml_value(column)}" for label, column in iv.arms)
            lines += ["", "[interventions]", f"base = {_toml_value(iv.base)}", f"arms = {{ {arms} }}",
                      f"bounds = {_toml_value(iv.bounds)}", f"loss = {_toml_value(iv.loss)}"]
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) < 1e15 else f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def _k(value: Any, source: str | None) -> int | None:
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{_where(source, 'k')} = {value!r} is not accepted (expected an integer >= 1 or \"auto\")")
    return value


def _target(item: Any, defaults: Mapping[str, Any], source: str | None) -> TargetSpec:
    if isinstance(item, str):
        item = {"name": item}
    _expect(item, dict, "targets", source, "a target name or a table with name = ...")
    _unknown_keys(item, _TARGET_KEYS, "targets", source)
    if "name" not in item:
        raise ConfigError(f"{_where(source, 'targets')}: a target table has no name (add name = \"column\")")
    merged = {**defaults, **item}
    name = _expect(merged["name"], str, "targets.name", source, "a string")
    values: dict[str, Any] = {"name": name}
    for key in ("label", "bounds", "loss"):
        if key in merged:
            values[key] = _expect(merged[key], str, f"targets[{name!r}].{key}", source, "a string")
    if "cutoff" in merged:
        values["cutoff"] = _positive_number(merged["cutoff"], f"targets[{name!r}].cutoff", source,
                                            "training FLOPs > 0, e.g. 8.4e22")
    if "holdout_top" in merged:
        values["holdout_top"] = _expect(merged["holdout_top"], (int, float), f"targets[{name!r}].holdout_top", source,
                                        "a share of models in (0, 1)")
    for key in ("exclude_from_pca", "predictors"):
        if key in merged:
            values[key] = _strings(merged[key], f"targets[{name!r}].{key}", source)
    return TargetSpec(**values).check(source)


def _interventions(table: Any, source: str | None) -> InterventionSpec:
    _expect(table, dict, "interventions", source, "a table with base = ... and arms = { label = column, ... }")
    _unknown_keys(table, _INTERVENTION_KEYS, "interventions", source)
    for key in ("base", "arms"):
        if key not in table:
            raise ConfigError(f"{_where(source, 'interventions')}: missing key {key!r} (e.g. base = \"gsm8k_5\", "
                              "arms = { CoT = \"gsm8k_cot\" })")
    base = _expect(table["base"], str, "interventions.base", source, "a target name")
    arms = _expect(table["arms"], dict, "interventions.arms", source, "a table label = target column")
    if not arms:
        raise ConfigError(f"{_where(source, 'interventions.arms')} is empty (expected at least one label = column)")
    for label, column in arms.items():
        _expect(column, str, f"interventions.arms.{label}", source, "a target column name")
    spec = InterventionSpec(base, tuple(arms.items()), **{k: table[k] for k in ("bounds", "loss") if k in table})
    TargetSpec(base, bounds=spec.bounds, loss=spec.loss).check(source)
    return spec


def load_config(path: str | Path, *, start: ReportConfig | None = None) -> ReportConfig:
    """Read a report configuration from a TOML file (a :class:`ConfigError` names the file and the problem).

    Keys the file does not set keep their values in ``start`` (default: the defaults of :class:`ReportConfig`).

    Examples
    --------
    >>> load_config("analyses/paper.toml").reference_family  # doctest: +SKIP
    'Llama-2'
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"configuration file {str(path)!r} cannot be read: {err}") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML: {err}") from None
    return ReportConfig.from_mapping(table, source=str(path), base=path.parent, start=start)
