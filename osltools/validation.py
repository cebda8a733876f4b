"""Held-out validation of scaling laws: splits, held-out fits and backtests against compute baselines.

METHOD.md step 6. A law is trained on weaker models and judged on stronger
ones it has never seen. Everything fitted is refitted on the training models
only: the imputation and the PCA (so held-out models' benchmark scores do not
shape the capability axes) and the law (so their targets do not shape the
curve). Held-out models are completed by the training imputer and projected on
the training loadings (:meth:`CapabilityResults.transform`), one model at a
time, so a held-out model's prediction depends on its own scores only.

Splits (:class:`Split`, immutable: train, test, excluded models with reasons)
- :func:`compute_split`: training FLOPs <= cutoff train (default 8.4e22,
  Llama-2-7B's), the rest test. Models without compute cannot be placed by a
  compute cutoff: they are excluded and listed, never silently put in a side.
- :func:`capability_split`: PC-1 <= cutoff train. PC-1 comes from a PCA of *all*
  models' benchmark scores (rank-1 imputation, the paper's settings). It uses
  no target information, but the held-out models' benchmarks do shape the axis
  that defines *which* models are held out (not any fitted parameter: the
  held-out fit refits imputation and PCA on the training models).
- :func:`top_fraction_split`: the top share of models by compute or PC-1 held out.
- :func:`family_split` / :func:`leave_one_family_out`: one family held out.
- :func:`heldout_split`: an explicit list of held-out models.

Predictors (specs, mapped to formulas through :meth:`ScalingLaw.from_formula`)
- ``"pcs:K"``: ``target ~ PC1 + ... + PCK`` (principal capabilities);
- ``"flops"``: ``target ~ log10_flops``; ``"size"``: ``target ~ np.log10(params_b)``.
Targets whose names are not Python identifiers enter as ``Q("name")``.

:func:`backtest` evaluates every predictor on the *same* models: per target,
models without the target, or without an input of any requested predictor
(training FLOPs for ``flops``, parameter count for ``size``), are excluded from
training and test alike and listed with the reason. A law that fails to fit
(:class:`~osltools.exceptions.FitError`) is a row of the table with its
message, never dropped.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from .capabilities import CapabilityPCA, CapabilityResults
from .data import Panel
from .equivalent import EquivalentFlops, equivalent_flops
from .exceptions import ConfigError, DataError, FitError
from .impute import PCAImputer
from .law import COV_TYPES, LOSSES, LawPrediction, LawResults, Limit, ScalingLaw, resolve_limits
from .immutable import Sealed
from .summary import Summary, SummaryMixin

__all__ = [
    "DEFAULT_CUTOFF", "PREDICTORS", "Split", "compute_split", "capability_split", "top_fraction_split",
    "family_split", "leave_one_family_out", "heldout_split", "capability_index", "LawOptions",
    "predictor_formula", "fit_heldout", "HeldOutFit", "backtest", "BacktestResults",
]

#: Llama-2-7B's training FLOPs, the paper's default compute cutoff.
DEFAULT_CUTOFF = 8.4e22
#: The paper's comparison: 1-4 principal capabilities against log compute and log size.
PREDICTORS = ("pcs:1", "pcs:2", "pcs:3", "pcs:4", "flops", "size")
_CUTOFF_RTOL = 1e-12  # FLOPs equal to the cutoff up to rounding of the unit conversion count as <= cutoff
_PCS = re.compile(r"pcs:(\d+)$")


# ---------------------------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class Split:
    """Which models train a law, which test it, and which are left out (with the reason).

    Parameters
    ----------
    train, test : model names (disjoint).
    excluded : ``(model, reason)`` pairs of models in neither side.
    description : how the split was made, in words.

    Examples
    --------
    >>> s = Split(train=("a", "b"), test=("c",), excluded=(("d", "no training FLOPs"),), description="demo")
    >>> s.n_train, s.n_test, s.reasons
    (2, 1, {'d': 'no training FLOPs'})
    """

    train: tuple[str, ...]
    test: tuple[str, ...]
    excluded: tuple[tuple[str, str], ...] = ()
    description: str = ""

    def __post_init__(self):
        for name in ("train", "test"):
            object.__setattr__(self, name, tuple(map(str, getattr(self, name))))
        object.__setattr__(self, "excluded", tuple((str(m), str(r)) for m, r in self.excluded))
        seen: dict[str, str] = {}
        for side, models in (("train", self.train), ("test", self.test), ("excluded", self.excluded_models)):
            for model in models:
                if model in seen:
                    raise ConfigError(f"model {model!r} is in {seen[model]!r} and in {side!r}: a split's sides must "
                                      "be disjoint")
                seen[model] = side

    @property
    def n_train(self) -> int:
        return len(self.train)

    @property
    def n_test(self) -> int:
        return len(self.test)

    @property
    def excluded_models(self) -> tuple[str, ...]:
        return tuple(m for m, _ in self.excluded)

    @property
    def reasons(self) -> dict[str, str]:
        """Excluded model -> why it is in neither side."""
        return dict(self.excluded)

    @property
    def models(self) -> tuple[str, ...]:
        return self.train + self.test + self.excluded_models

    def frame(self) -> pd.DataFrame:
        """One row per model: ``role`` (train / test / excluded) and ``reason``."""
        rows = [(m, "train", "") for m in self.train] + [(m, "test", "") for m in self.test]
        rows += [(m, "excluded", r) for m, r in self.excluded]
        return pd.DataFrame(rows, columns=["model", "role", "reason"]).set_index("model")

    def restrict(self, reasons: dict[str, str]) -> Split:
        """A split with the models of ``reasons`` (model -> reason) moved from train/test to excluded."""
        moved = tuple((m, reasons[m]) for m in self.train + self.test if m in reasons)
        return Split(tuple(m for m in self.train if m not in reasons), tuple(m for m in self.test if m not in reasons),
                     self.excluded + moved, self.description)

    def require_both_sides(self, what: str = "") -> Split:
        """This split, or a :class:`ConfigError` when it has no training or no test model."""
        for side, models, fix in (("training", self.train, "raise the cutoff or hold out fewer models"),
                                  ("test", self.test, "lower the cutoff or hold out more models")):
            if not models:
                raise ConfigError(f"the split ({self.description}){what} leaves no {side} model "
                                  f"({self.n_train} train, {self.n_test} test, {len(self.excluded)} excluded): {fix}")
        return self

    def __repr__(self) -> str:
        return (f"<Split {self.description}: {self.n_train} train, {self.n_test} test, "
                f"{len(self.excluded)} excluded>")


def _missing_compute(panel: Panel, column: str = "flops") -> dict[str, str]:
    values = panel.meta[column]
    what = "training FLOPs" if column == "flops" else "parameter count"
    return {m: f"no {what} ({column})" for m in values.index[values.isna().to_numpy()]}


def compute_split(panel: Panel, cutoff: float = DEFAULT_CUTOFF) -> Split:
    """Train on models with training FLOPs <= ``cutoff``, test on the rest.

    Models without training FLOPs cannot be placed by a compute cutoff: they
    are excluded (``Split.reasons`` says so), whatever their capabilities.

    Examples
    --------
    >>> from osltools.datasets import simulate_panel
    >>> split = compute_split(simulate_panel(seed=0).panel, cutoff=1e23)
    >>> split.n_train + split.n_test + len(split.excluded)
    100
    """
    if not (isinstance(cutoff, (int, float, np.integer, np.floating)) and np.isfinite(cutoff) and cutoff > 0):
        raise ConfigError(f"cutoff={cutoff!r} is not accepted (expected training FLOPs > 0, e.g. 8.4e22)")
    flops = panel.meta["flops"]
    known = flops.dropna()
    train = known.index[(known <= cutoff * (1 + _CUTOFF_RTOL)).to_numpy()]
    test = known.index.difference(train, sort=False)
    split = Split(tuple(train), tuple(test), tuple(_missing_compute(panel).items()),
                  f"training FLOPs <= {cutoff:.3g} train")
    return split.require_both_sides()


def capability_index(panel: Panel, *, exclude_from_pca: Iterable[str] = (),
                     imputer: PCAImputer | None = None) -> pd.Series:
    """PC-1 of every model, from a PCA of all the panel's models (no target information)."""
    pca = CapabilityPCA(n_components=1, imputer=imputer or PCAImputer())
    return pca.fit(pca_inputs(panel, exclude_from_pca)).scores["PC1"]


def capability_split(panel: Panel, cutoff: float, *, exclude_from_pca: Iterable[str] = (),
                     imputer: PCAImputer | None = None) -> Split:
    """Train on models with PC-1 <= ``cutoff``, test on the rest (PC-1 from :func:`capability_index`).

    The PC-1 axis is fitted on all models' benchmarks (never on targets), so
    the held-out models help define the cutoff's scale, not any parameter of
    the held-out fit, which refits imputation and PCA on the training models.
    """
    if not (isinstance(cutoff, (int, float, np.integer, np.floating)) and np.isfinite(cutoff)):
        raise ConfigError(f"cutoff={cutoff!r} is not accepted (expected a PC-1 value, e.g. 0.0)")
    pc1 = capability_index(panel, exclude_from_pca=exclude_from_pca, imputer=imputer)
    train = pc1.index[(pc1 <= cutoff).to_numpy()]
    split = Split(tuple(train), tuple(pc1.index.difference(train, sort=False)), (),
                  f"PC-1 (PCA of all models' benchmarks) <= {cutoff:.4g} train")
    return split.require_both_sides()


def top_fraction_split(panel: Panel, fraction: float, *, by: str = "flops", exclude_from_pca: Iterable[str] = (),
                       imputer: PCAImputer | None = None) -> Split:
    """Hold out the top ``fraction`` of models by training compute (``by="flops"``) or PC-1 (``by="pc1"``).

    ``floor(fraction * n)`` models (at least one) are held out, n counting the
    models that have the measure; models without training FLOPs are excluded
    for ``by="flops"``. Ties at the boundary are broken by the panel's model order.
    """
    if by not in ("flops", "pc1"):
        raise ConfigError(f"by={by!r} is not accepted (expected 'flops' or 'pc1')")
    if not (isinstance(fraction, (float, int)) and 0 < fraction < 1):
        raise ConfigError(f"fraction={fraction!r} is not accepted (expected a share of models in (0, 1), e.g. 0.2)")
    if by == "flops":
        measure, excluded = panel.meta["flops"].dropna(), _missing_compute(panel)
    else:
        measure, excluded = capability_index(panel, exclude_from_pca=exclude_from_pca, imputer=imputer), {}
    n_test = max(1, math.floor(fraction * len(measure)))
    order = measure.sort_values(ascending=False, kind="stable").index
    test = set(order[:n_test])
    split = Split(tuple(m for m in measure.index if m not in test), tuple(m for m in measure.index if m in test),
                  tuple(excluded.items()), f"top {fraction:.0%} of models by {by} held out")
    return split.require_both_sides()


def family_split(panel: Panel, family: str) -> Split:
    """Hold out every model of one family; models without a family are excluded."""
    families = panel.meta["family"]
    if family not in set(panel.families):
        raise ConfigError(f"family={family!r} is not in the panel (families: {', '.join(panel.families)})")
    known = families.dropna()
    test = known.index[(known == family).to_numpy()]
    excluded = tuple((m, "no family") for m in families.index[families.isna().to_numpy()])
    split = Split(tuple(known.index.difference(test, sort=False)), tuple(test), excluded, f"family {family} held out")
    return split.require_both_sides()


def leave_one_family_out(panel: Panel) -> list[Split]:
    """One :func:`family_split` per family: the test sides partition the models that have a family."""
    return [family_split(panel, family) for family in panel.families]


def heldout_split(panel: Panel, models: Iterable[str], *, description: str | None = None) -> Split:
    """Hold out the named models; every other model of the panel trains."""
    held = [models] if isinstance(models, str) else list(models)
    unknown = [m for m in held if m not in set(panel.models)]
    if unknown:
        raise ConfigError(f"held-out models {unknown[:5]} are not in the panel")
    test = set(held)
    split = Split(tuple(m for m in panel.models if m not in test), tuple(m for m in panel.models if m in test), (),
                  description or f"{len(test)} named models held out")
    return split.require_both_sides()


# ---------------------------------------------------------------------------------------------- predictors
@dataclass(frozen=True)
class LawOptions:
    """How each law of a held-out fit or backtest is specified (see :class:`~osltools.law.ScalingLaw`).

    Examples
    --------
    >>> LawOptions(bounds="floor", loss="huber").describe()
    'bounds=floor, loss=huber (f_scale=0.1), cov=nonrobust'
    """

    bounds: str | None = None
    floor: Limit | None = None
    ceiling: Limit | None = None
    loss: str = "linear"
    f_scale: float = 0.1
    cov_type: str = "nonrobust"

    def __post_init__(self):
        for name in ("floor", "ceiling"):  # lists become tuples, so options stay hashable
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        resolve_limits(self.floor, self.ceiling, self.bounds)  # raises ConfigError on bad bounds
        if self.loss not in LOSSES:
            raise ConfigError(f"loss={self.loss!r} is not accepted (expected one of {', '.join(map(repr, LOSSES))})")
        if not (isinstance(self.f_scale, (int, float)) and np.isfinite(self.f_scale) and self.f_scale > 0):
            raise ConfigError(f"f_scale={self.f_scale!r} is not accepted (expected a positive number, e.g. 0.1)")
        if self.cov_type not in COV_TYPES:
            raise ConfigError(f"cov_type={self.cov_type!r} is not accepted (expected one of "
                              f"{', '.join(map(repr, COV_TYPES))})")

    def fit(self, formula: str, data: pd.DataFrame) -> LawResults:
        law = ScalingLaw.from_formula(formula, data, bounds=self.bounds, floor=self.floor, ceiling=self.ceiling,
                                      loss=self.loss, f_scale=self.f_scale)
        return law.fit(cov_type=self.cov_type)

    def describe(self) -> str:
        if self.bounds is not None:
            limits = f"bounds={self.bounds}"
        else:
            limits = f"floor={self.floor if self.floor is not None else 0}, " \
                     f"ceiling={self.ceiling if self.ceiling is not None else 1}"
        loss = self.loss if self.loss == "linear" else f"{self.loss} (f_scale={self.f_scale:g})"
        return f"{limits}, loss={loss}, cov={self.cov_type}"


def parse_predictor(spec: str) -> int | str:
    """The number of PCs of ``"pcs:K"``, or ``"flops"`` / ``"size"``."""
    if spec in ("flops", "size"):
        return spec
    match = _PCS.match(str(spec))
    if match and int(match.group(1)) >= 1:
        return int(match.group(1))
    raise ConfigError(f"predictor {spec!r} is not accepted (expected 'pcs:K' with K >= 1, e.g. 'pcs:3', or 'flops' "
                      "or 'size')")


def _term(name: str) -> str:
    return name if name.isidentifier() and not keyword.iskeyword(name) else f"Q({name!r})"


def predictor_formula(target: str, predictor: str) -> str:
    """The law's formula for a predictor spec.

    Examples
    --------
    >>> predictor_formula("gsm8k_cot", "pcs:3")
    'gsm8k_cot ~ PC1 + PC2 + PC3'
    >>> predictor_formula("a,b", "size")
    "Q('a,b') ~ np.log10(params_b)"
    """
    kind = parse_predictor(predictor)
    rhs = {"flops": "log10_flops", "size": "np.log10(params_b)"}.get(kind) if isinstance(kind, str) else \
        " + ".join(f"PC{i + 1}" for i in range(kind))
    return f"{_term(target)} ~ {rhs}"


def require_target(panel: Panel, target: str) -> None:
    """Raise a ConfigError naming the panel's targets when ``target`` is not one of them."""
    if target not in set(panel.target_names):
        names = list(map(str, panel.target_names))
        shown = ", ".join(names[:10]) + (f", ... ({len(names) - 10} more)" if len(names) > 10 else "")
        raise ConfigError(f"target {target!r} is not a target of the panel (targets: {shown or 'none'}; attach "
                          "targets with Panel.with_targets or a dataset that has them)")
    if panel.targets[target].notna().sum() == 0:
        raise DataError(f"target {target!r} has no observed value for any of the panel's {panel.n_models} models")


def _unusable(panel: Panel, target: str, predictors: Sequence[str]) -> dict[str, str]:
    """Models that cannot take part in a target's comparison, with the reason."""
    reasons = {m: f"no value of the target {target}" for m in panel.models[panel.targets[target].isna().to_numpy()]}
    kinds = {parse_predictor(p) for p in predictors}
    for kind, column in (("flops", "flops"), ("size", "params_b")):
        if kind in kinds:
            for model, reason in _missing_compute(panel, column).items():
                reasons.setdefault(model, f"{reason}, needed by the '{kind}' predictor")
    return reasons


def pca_inputs(panel: Panel, exclude_from_pca: Iterable[str]) -> Panel:
    """The panel whose benchmarks feed the PCA: without ``exclude_from_pca`` (e.g. GSM8K for arithmetic targets)."""
    excluded = [exclude_from_pca] if isinstance(exclude_from_pca, str) else list(exclude_from_pca)
    if not excluded:
        return panel
    unknown = [b for b in excluded if b not in set(panel.benchmarks)]
    if unknown:
        raise ConfigError(f"exclude_from_pca: benchmarks {unknown} are not in the panel "
                          f"(benchmarks: {', '.join(panel.benchmarks)})")
    return panel.drop(benchmarks=excluded)


# ---------------------------------------------------------------------------------------------- held-out fit
def fit_heldout(
    panel: Panel,
    target: str,
    *,
    split: Split | None = None,
    predictor: str = "pcs:3",
    exclude_from_pca: Iterable[str] = (),
    law: LawOptions | None = None,
    imputer: PCAImputer | None = None,
) -> HeldOutFit:
    """Fit a law on a split's training models and predict its test models.

    Imputation and PCA (for ``"pcs:K"``) are fitted on the training models
    that have the target (as in the paper's code); test models are completed
    with the training imputer and projected on the training loadings. The law
    is fitted on the training models only. Models of the split without the
    target, or without this predictor's input, are moved to its exclusions.

    Parameters
    ----------
    panel : the models, their benchmarks, metadata and the target.
    target : a target column of the panel.
    split : default :func:`compute_split` at 8.4e22 FLOPs.
    predictor : ``"pcs:K"``, ``"flops"`` or ``"size"``.
    exclude_from_pca : benchmarks left out of the imputation and PCA inputs
        (e.g. ``["GSM8K"]`` for arithmetic targets).
    law : floor/ceiling, loss and covariance of the law (default :class:`LawOptions`).
    imputer : imputation settings (default rank-1 on standardized columns).

    Returns
    -------
    HeldOutFit

    Raises
    ------
    ConfigError
        Unknown target, predictor, benchmark or split models; a split with no
        training or no test model that has the target.
    DataError
        Target observed for no model.
    FitError
        Too few training models for K components, or the law cannot be fitted.

    Examples
    --------
    >>> from osltools.datasets import load_panel
    >>> panel = load_panel("obsscaling-emergent", model_set="main")  # doctest: +SKIP
    >>> fit = fit_heldout(panel, "word_unscrambling_2_exact_match", law=LawOptions(bounds="floor"))  # doctest: +SKIP
    >>> fit.errors()["mse"]  # doctest: +SKIP
    """
    require_target(panel, target)
    kind = parse_predictor(predictor)
    split = _split_for(panel, split).restrict(_unusable(panel, target, [predictor]))
    split.require_both_sides(f" with target {target!r}")
    return _fit(panel, target, split, predictor, kind, pca_inputs(panel, exclude_from_pca), law or LawOptions(),
                imputer or PCAImputer())


def _split_for(panel: Panel, split: Split | None) -> Split:
    if split is None:
        return compute_split(panel)
    if not isinstance(split, Split):
        raise ConfigError(f"split must be a Split (e.g. compute_split(panel)), got {type(split).__name__}")
    unknown = [m for m in split.train + split.test if m not in set(panel.models)]
    if unknown:
        raise ConfigError(f"the split names models that are not in the panel: {unknown[:5]}")
    return split


def _fit(panel: Panel, target: str, split: Split, predictor: str, kind: int | str, pca_panel: Panel,
         options: LawOptions, imputer: PCAImputer) -> HeldOutFit:
    formula = predictor_formula(target, predictor)
    capabilities = None
    if isinstance(kind, int):
        if split.n_train <= kind:
            raise FitError(f"{split.n_train} training models are too few for {kind} principal components "
                           "(need more models than components); use fewer PCs or a larger training set")
        train_panel, test_panel = pca_panel.select(split.train), pca_panel.select(split.test)
        capabilities = CapabilityPCA(n_components=kind, imputer=imputer).fit(train_panel)
        train = capabilities.frame()
        test = test_panel.frame().join(capabilities.transform(test_panel))
    else:
        frame = panel.frame()
        train, test = frame.loc[list(split.train)], frame.loc[list(split.test)]
    result = options.fit(formula, train)
    return HeldOutFit(split=split, target=target, predictor=predictor, formula=formula, options=options,
                      capabilities=capabilities, law=result, train=train, test=test)


@dataclass(frozen=True, repr=False, eq=False)
class HeldOutFit(SummaryMixin):
    """A law fitted on a split's training models, with predictions for its test models (see :func:`fit_heldout`)."""

    split: Split
    target: str
    predictor: str
    formula: str
    options: LawOptions
    capabilities: CapabilityResults | None
    law: LawResults
    train: pd.DataFrame = field(repr=False)  # training models: metadata, scores, targets (and PCs)
    test: pd.DataFrame = field(repr=False)  # test models, PCs projected with the training fit

    # ------------------------------------------------------------------ contract (delegated to the law)
    @property
    def params(self) -> pd.Series:
        return self.law.params

    @property
    def bse(self) -> pd.Series:
        return self.law.bse

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        return self.law.conf_int(alpha)

    # ------------------------------------------------------------------ predictions and errors
    # Predictions do not depend on alpha: each design matrix is built once (patsy is the costly part).
    @cached_property
    def _test_prediction(self) -> LawPrediction:
        return self.law.get_prediction(self.test)

    @cached_property
    def _train_prediction(self) -> LawPrediction:
        return self.law.get_prediction()  # the law's own design: every training model has target and predictors

    def predictions(self, alpha: float = 0.05, *, include_train: bool = False) -> pd.DataFrame:
        """Per model: role, family, observed target, predicted mean, confidence and prediction intervals,
        residual (observed - mean) and whether the observation lies inside the prediction interval."""
        parts = [("test", self.test, self._test_prediction)]
        if include_train:
            parts.append(("train", self.train, self._train_prediction))
        frames = []
        for role, data, prediction in parts:
            pred = prediction.summary_frame(alpha=alpha)
            observed = data[self.target].reindex(pred.index)
            frames.append(pred.assign(
                role=role, family=data["family"].reindex(pred.index), observed=observed,
                residual=observed - pred["mean"],
                inside_pi=(observed >= pred["obs_ci_lower"]) & (observed <= pred["obs_ci_upper"]),
            ))
        out = pd.concat(frames)
        first = ["role", "family", "observed", "mean"]
        return out[first + [c for c in out.columns if c not in first]].rename_axis("model")

    def errors(self, alpha: float = 0.05) -> dict[str, float]:
        """Test-set errors: n_train, n_test, MSE (with its standard error), MAE, prediction-interval coverage."""
        pred = self.predictions(alpha)
        squared = pred["residual"].to_numpy() ** 2
        n = len(squared)
        return {
            "n_train": self.split.n_train, "n_test": n,
            "mse": float(squared.mean()),
            "mse_se": float(squared.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
            "mae": float(np.abs(pred["residual"]).mean()),
            "pi_coverage": float(pred["inside_pi"].mean()),
            "train_mse": float(np.mean(self.law.resid.to_numpy() ** 2)),
        }

    def frame(self) -> pd.DataFrame:
        """Training and test models together (metadata, scores, targets, PCs) with a ``role`` column."""
        return pd.concat([self.train.assign(role="train"), self.test.assign(role="test")])

    def equivalent_flops(self, *, reference_family: str = "Llama-2", alpha: float = 0.05) -> EquivalentFlops:
        """f-equivalent FLOPs of every training and test model under this law (see :func:`equivalent_flops`)."""
        return equivalent_flops(self.law, self.frame(), reference_family=reference_family, alpha=alpha)

    # ------------------------------------------------------------------ display
    def summary(self, alpha: float = 0.05) -> Summary:
        law = self.law.summary(alpha)
        errors = self.errors(alpha)
        header = {
            "Target": self.target, "Predictor": self.predictor, "Formula": self.formula,
            "Split": self.split.description, "Training models": errors["n_train"], "Test models": errors["n_test"],
            "Excluded models": len(self.split.excluded), "Law": self.options.describe(),
        }
        if self.capabilities is not None:
            header["PCA inputs"] = ", ".join(self.capabilities.panel.benchmarks)
        header |= {"Test MSE": errors["mse"], "Test MAE": errors["mae"],
                   f"Test coverage of the {1 - alpha:.0%} PI": errors["pi_coverage"], "Train MSE": errors["train_mse"]}
        tables = [("Law parameters (training models)", law.tables[0][1]),
                  ("Test predictions", self.predictions(alpha).drop(columns="role"))]
        notes = [f"Imputation and PCA fitted on the {errors['n_train']} training models only; test models are "
                 "projected on the training fit." if self.capabilities is not None else
                 "Compute baseline: no imputation or PCA involved."] + law.notes
        if self.split.excluded:
            notes.append(_describe_exclusions(self.split))
        return Summary(f"Held-out fit: {self.formula}", header, tables, notes)

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """The law's parameters (one row each) with the target, predictor and split."""
        return self.law.tidy(alpha).assign(target=self.target, predictor=self.predictor, split=self.split.description)

    def __repr__(self) -> str:
        return (f"<HeldOutFit {self.formula}: {self.split.n_train} train, {self.split.n_test} test models "
                f"({self.split.description})>")


def _describe_exclusions(split: Split, limit: int = 6) -> str:
    by_reason: dict[str, list[str]] = {}
    for model, reason in split.excluded:
        by_reason.setdefault(reason, []).append(model)
    parts = [f"{reason}: {len(models)} ({', '.join(models[:limit])}{' ...' if len(models) > limit else ''})"
             for reason, models in by_reason.items()]
    return f"{len(split.excluded)} models excluded from training and test: " + "; ".join(parts)


# ---------------------------------------------------------------------------------------------- backtest
def backtest(
    panel: Panel,
    targets: str | Sequence[str],
    *,
    predictors: Sequence[str] = PREDICTORS,
    split: Split | None = None,
    exclude_from_pca: Iterable[str] = (),
    law: LawOptions | None = None,
    imputer: PCAImputer | None = None,
    alpha: float = 0.05,
) -> BacktestResults:
    """Held-out errors of every predictor for every target, on the same models.

    Parameters
    ----------
    panel : models with benchmarks, metadata and the targets.
    targets : target column(s) of the panel.
    predictors : specs (:data:`PREDICTORS` by default: 1-4 PCs, log FLOPs, log size).
    split : default :func:`compute_split` at 8.4e22 FLOPs. Per target, models
        without the target or an input of any requested predictor are excluded
        from both sides for every predictor (listed in ``splits[target]``).
    exclude_from_pca : benchmarks left out of the PCA inputs.
    law : floor/ceiling, loss and covariance of every law (:class:`LawOptions`).
    imputer : imputation settings (default rank-1).
    alpha : level of the prediction intervals whose coverage is reported.

    Returns
    -------
    BacktestResults
        ``table``: one row per (target, predictor) with n_train, n_test, test
        MSE and its standard error, MAE, prediction-interval coverage, train
        MSE, status / message (failed fits are rows too) and ``best``.

    Examples
    --------
    >>> res = backtest(panel, ["word_unscrambling_2_exact_match"], law=LawOptions(bounds="floor"))  # doctest: +SKIP
    >>> res.winners  # doctest: +SKIP
    """
    targets = [targets] if isinstance(targets, str) else list(targets)
    predictors = [predictors] if isinstance(predictors, str) else list(predictors)
    if not targets or not predictors:
        raise ConfigError("backtest needs at least one target and one predictor")
    kinds = [parse_predictor(p) for p in predictors]
    for target in targets:
        require_target(panel, target)
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")
    split = _split_for(panel, split)
    pca_panel, options, imputer = pca_inputs(panel, exclude_from_pca), law or LawOptions(), imputer or PCAImputer()
    rows, predictions, fits, splits = [], [], {}, {}
    for target in targets:
        common = split.restrict(_unusable(panel, target, predictors)).require_both_sides(f" with target {target!r}")
        splits[target] = common
        for predictor, kind in zip(predictors, kinds):
            row = {"target": target, "predictor": predictor, "formula": predictor_formula(target, predictor)}
            try:
                fit = _fit(panel, target, common, predictor, kind, pca_panel, options, imputer)
            except FitError as err:
                rows.append(row | {"n_train": common.n_train, "n_test": common.n_test, "status": "failed",
                                   "message": str(err)})
                continue
            fits[(target, predictor)] = fit
            rows.append(row | fit.errors(alpha) | {"status": "ok", "message": ""})
            predictions.append(fit.predictions(alpha, include_train=True).reset_index()
                               .assign(target=target, predictor=predictor))
    return BacktestResults(_table(rows), _tidy_predictions(predictions), splits, fits, options, alpha,
                           split.description)


_TABLE_COLUMNS = ["formula", "n_train", "n_test", "mse", "mse_se", "mae", "pi_coverage", "train_mse", "status",
                  "message"]


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows).set_index(["target", "predictor"]).reindex(columns=_TABLE_COLUMNS)
    ok = table["status"] == "ok"
    best = table["mse"].where(ok).groupby(level="target", sort=False).transform("min")
    table["best"] = ok & (table["mse"] == best)
    return table


def _tidy_predictions(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=["target", "predictor", "model", "role"])
    out = pd.concat(frames, ignore_index=True)
    first = ["target", "predictor", "model", "role"]
    return out[first + [c for c in out.columns if c not in first]]


class BacktestResults(Sealed, SummaryMixin):
    """Held-out errors of laws per target and predictor (see :func:`backtest`); immutable.

    ``params`` are the test MSEs (labelled by target and predictor), ``bse``
    their standard errors over test models (sd of squared errors / sqrt(n)),
    ``conf_int`` t-based intervals with ``n_test - 1`` df (a rough guide: squared
    errors are skewed). :meth:`compare` gives paired differences against a
    baseline predictor on the same test models.
    """

    def __init__(self, table: pd.DataFrame, predictions: pd.DataFrame, splits: dict[str, Split],
                 fits: dict[tuple[str, str], HeldOutFit], options: LawOptions, alpha: float, description: str):
        self.table = table
        self.predictions = predictions
        self.splits = dict(splits)
        self.fits = dict(fits)
        self.options = options
        self.alpha = alpha
        self.description = description
        self._seal()

    @classmethod
    def concat(cls, results: Sequence[BacktestResults]) -> BacktestResults:
        """One result from backtests of different targets (e.g. each with its own split and law options)."""
        results = list(results)
        if not results:
            raise ConfigError("concat needs at least one BacktestResults")
        targets = [t for r in results for t in r.splits]
        if len(set(targets)) != len(targets):
            twice = sorted({t for t in targets if targets.count(t) > 1})
            raise ConfigError(f"targets appear in more than one backtest: {twice}")
        if len({r.alpha for r in results}) > 1:
            raise ConfigError("backtests with different alpha cannot be combined")
        splits = {t: s for r in results for t, s in r.splits.items()}
        fits = {k: f for r in results for k, f in r.fits.items()}
        options = results[0].options if len({r.options for r in results}) == 1 else None
        table = pd.concat([r.table for r in results])
        return cls(table, pd.concat([r.predictions for r in results], ignore_index=True), splits, fits, options,
                   results[0].alpha, "; ".join(dict.fromkeys(r.description for r in results)))

    # ------------------------------------------------------------------ estimates
    @property
    def params(self) -> pd.Series:
        return self.table["mse"].rename("mse")

    @property
    def bse(self) -> pd.Series:
        return self.table["mse_se"].rename("bse")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        if not 0 < alpha < 1:
            raise ConfigError(f"alpha={alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")
        df = (self.table["n_test"] - 1).where(self.table["n_test"] > 1)
        q = stats.t.ppf(1 - alpha / 2, df.astype(float))
        return pd.DataFrame({"lower": self.params - q * self.bse, "upper": self.params + q * self.bse})

    @property
    def winners(self) -> pd.Series:
        """Per target, the predictor with the lowest test MSE among the laws that fitted."""
        best = self.table[self.table["best"]].reset_index()
        return best.groupby("target", sort=False)["predictor"].first().rename("best_predictor")

    def compare(self, baseline: str = "flops", *, alpha: float = 0.05) -> pd.DataFrame:
        """Paired comparison with a baseline predictor on the same test models.

        Per (target, predictor): difference of test MSEs (predictor minus
        baseline; negative = the predictor is better), its standard error from
        the per-model differences of squared errors, a paired t interval and
        p-value (``n_test - 1`` df), and the share of test models the predictor
        predicts more closely.
        """
        test = self.predictions[self.predictions["role"] == "test"]
        squared = test.assign(sq=test["residual"] ** 2).pivot_table(
            index=["target", "model"], columns="predictor", values="sq", aggfunc="first")
        if baseline not in squared.columns:
            raise ConfigError(f"baseline {baseline!r} has no fitted law in this backtest (predictors with fits: "
                              f"{', '.join(squared.columns)})")
        rows = []
        for target, block in squared.groupby(level="target", sort=False):
            for predictor in block.columns.drop(baseline):
                diff = (block[predictor] - block[baseline]).dropna().to_numpy()
                if len(diff) < 2:
                    continue
                n, mean, se = len(diff), diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff))
                q = stats.t.ppf(1 - alpha / 2, n - 1)
                rows.append({"target": target, "predictor": predictor, "baseline": baseline, "n_test": n,
                             "mse_diff": mean, "se": se, "lower": mean - q * se, "upper": mean + q * se,
                             "p_value": float(2 * stats.t.sf(abs(mean / se), n - 1)) if se > 0 else np.nan,
                             "share_closer": float(np.mean(diff < 0))})
        return pd.DataFrame(rows).set_index(["target", "predictor"])

    # ------------------------------------------------------------------ display
    def summary(self) -> Summary:
        shown = self.table.drop(columns=["formula", "message"])
        header = {"Targets": len(self.splits), "Predictors": self.table.index.get_level_values("predictor").nunique(),
                  "Split": self.description, "Law": self.options.describe() if self.options else "per target",
                  "Failed fits": int((self.table["status"] != "ok").sum())}
        notes = [f"Every predictor is trained and tested on the same models per target; MSE/MAE on test models; "
                 f"pi_coverage = share of test models inside the {1 - self.alpha:.0%} prediction interval; "
                 "mse_se = sd of squared errors / sqrt(n_test)."]
        notes += [f"{t}: {_describe_exclusions(s)}" for t, s in self.splits.items() if s.excluded]
        notes += [f"{t} ~ {p} failed: {m}" for (t, p), m in self.table["message"].items() if m]
        tables = [("Held-out errors", shown), ("Lowest test MSE per target", self.winners.to_frame())]
        return Summary("Backtest of scaling laws on held-out models", header, tables, notes)

    def tidy(self) -> pd.DataFrame:
        """One row per (target, predictor, metric): the table's numbers in long form."""
        metrics = ["n_train", "n_test", "mse", "mse_se", "mae", "pi_coverage", "train_mse"]
        return self.table[metrics].reset_index().melt(["target", "predictor"], var_name="metric", value_name="value")

    def __repr__(self) -> str:
        failed = int((self.table["status"] != "ok").sum())
        return (f"<BacktestResults: {len(self.splits)} targets x "
                f"{self.table.index.get_level_values('predictor').nunique()} predictors ({self.description}), "
                f"{failed} failed fits>")
