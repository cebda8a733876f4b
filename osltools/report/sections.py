"""The sections of a report: each runs one analysis module and turns its Results into blocks.

Fitting happens here through the analysis modules (capabilities, dimension,
validation, equivalent FLOPs, ...); the figures are drawn by
:mod:`osltools.plotting` from the Results, and the tables are the Results'
own tidy frames. Warnings the analyses raise (small reference family, failed
bootstrap replicates, ...) are shown in the section they belong to.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import plotting
from ..capabilities import CapabilityPCA, CapabilityResults
from ..data import Panel
from ..dimension import ComponentSelection, select_n_components
from ..exceptions import FitError, OSLWarning
from ..validation import LawOptions, backtest, compute_split, top_fraction_split
from .config import ReportConfig, TargetSpec
from .document import ReportWriter, Section, slug

__all__ = ["Context", "TargetResult", "data_section", "capability_section", "law_section", "equivalent_section"]


@dataclass
class TargetResult:
    """What a target's law section found (the f-equivalent section and the summary read it)."""

    spec: TargetSpec
    backtest: Any = None
    fit: Any = None  # HeldOutFit of the main predictor, or None when it failed
    equivalent: Any = None  # EquivalentFlops, or None
    problems: list[str] = field(default_factory=list)


@dataclass
class Context:
    """Everything the sections share: the panel, the settings, the writer, and results of earlier sections."""

    panel: Panel
    config: ReportConfig
    writer: ReportWriter
    reference_family: str
    progress: Callable[[str], None]
    styles: dict[str, plotting.FamilyStyle] = field(default_factory=dict)
    caps: CapabilityResults | None = None
    selection: ComponentSelection | None = None
    k: int = 3
    targets: list[TargetResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def alpha(self) -> float:
        return self.config.alpha

    @property
    def level(self) -> str:
        return f"{1 - self.config.alpha:.0%}"


@contextmanager
def collect_warnings(into: list[str]) -> Iterator[None]:
    """Record osltools warnings (first line of each, once) into ``into`` instead of printing them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OSLWarning)
        yield
    for w in caught:
        if issubclass(w.category, OSLWarning):
            line = str(w.message).strip()
            if line not in into:
                into.append(line)


def _count(n: int, what: str, plural: str | None = None) -> str:
    return f"{n} {what if n == 1 else plural or what + 's'}"


# ---------------------------------------------------------------------------------------------- data
#: Beyond this many flags of one kind, the report lists them on one line.
FLAGS_ONE_BY_ONE = 3


def _flag_lines(flags: pd.DataFrame) -> list[str]:
    lines = []
    for check, part in flags.groupby("check", sort=False):
        if len(part) <= FLAGS_ONE_BY_ONE:
            lines += list(part["message"])
        elif check == "single_model_family":
            lines.append(f"{len(part)} families have one model, so no within-family scaling can be estimated for "
                         f"them: {', '.join(part['family'])}")
        else:
            lines.append(f"{len(part)} models flagged by the {check} check: {', '.join(part['model'])} (details in "
                         "the plausibility table)")
    return lines


def data_section(ctx: Context) -> Section:
    panel, w = ctx.panel, ctx.writer
    section = Section("data", "Data and missingness")
    meta = panel.meta
    n_flops = int(meta["flops"].notna().sum())
    section.text(
        f"{_count(panel.n_models, 'model')} in {_count(len(panel.families), 'family', 'families')}, "
        f"{_count(panel.n_benchmarks, 'benchmark')} ({', '.join(panel.benchmarks)}), "
        f"{_count(len(panel.target_names), 'target')}. {int(panel.scores.isna().sum().sum())} of "
        f"{panel.scores.size} benchmark scores are missing; {n_flops} models have training FLOPs "
        "(reported, or 6 N D from parameters and tokens)."
    )
    flags = panel.plausibility
    if len(flags):
        section.text(f"Plausibility checks flag {_count(len(flags), 'value')} (valid but implausible metadata; "
                     "check them before trusting compute-based results):", "warning")
        section.warnings(_flag_lines(flags))
    else:
        section.text("Plausibility checks (tokens per parameter, reported FLOPs vs 6 N D, one-model families): "
                     "nothing flagged.")
    for report in panel.join_reports:
        section.text(f"Join: {report.describe()}", "note")
    missing = panel.missingness()
    section.add(
        w.figure("missingness", plotting.plot_missingness(missing),
                 "Share of models without a score, per benchmark. Missing scores are imputed (rank-1 PCA "
                 "imputation) before the capability analysis."),
        w.table("missingness", missing.rename_axis("benchmark"), "Missing scores per benchmark"),
        w.table("metadata_coverage", panel.coverage().rename_axis("metadata"), "Metadata coverage (models with each)"),
    )
    families = meta.groupby("family").agg(models=("family", "size"), with_flops=("flops", "count"),
                                          log10_flops_min=("log10_flops", "min"), log10_flops_max=("log10_flops", "max"))
    section.add(w.table("families", families, "Models per family (compute range in log10 training FLOPs)"))
    if len(flags):
        section.add(w.table("plausibility", flags, "Plausibility flags"))
    return section


# ---------------------------------------------------------------------------------------------- capabilities
def capability_section(ctx: Context) -> Section:
    cfg, w = ctx.config, ctx.writer
    section = Section("capabilities", "Capability space")
    problems: list[str] = []
    with collect_warnings(problems):
        ctx.progress("capability space: choosing K (cross-validation and parallel analysis)")
        ctx.selection = select_n_components(ctx.panel, seed=cfg.seed)
        ctx.k = ctx.selection.recommended if cfg.k is None else cfg.k
        caps = CapabilityPCA(n_components=ctx.k).fit(ctx.panel)
        if cfg.bootstrap:
            ctx.progress(f"capability space: bootstrap of the PCA ({cfg.bootstrap} replicates)")
            caps = caps.bootstrap(n_boot=cfg.bootstrap, seed=cfg.seed, n_jobs=cfg.n_jobs)
    ctx.caps = caps
    ratio = caps.cumulative_ratio.iloc[ctx.k - 1]
    how = "the cross-validated recommendation (k = \"auto\")" if cfg.k is None else "as configured"
    section.text(
        f"PCA of the {caps.panel.n_models} models' imputed benchmark scores (centred, not standardized, as in the "
        f"paper). K = {ctx.k} components are kept ({how}); together they explain {ratio:.1%} of the variance."
        + (f" Intervals are percentile bootstrap intervals over models ({cfg.bootstrap} replicates; every replicate "
           "re-runs imputation and PCA)." if cfg.bootstrap else " No bootstrap was run (bootstrap = 0): no intervals.")
    )
    section.text("Evidence for K: " + " ".join(ctx.selection.evidence()))
    if cfg.k is not None and cfg.k != ctx.selection.recommended:
        section.text(f"The configured K = {cfg.k} differs from the cross-validated recommendation "
                     f"K = {ctx.selection.recommended}.", "warning")
    section.warnings(problems)
    section.add(
        w.figure("scree", plotting.plot_scree(caps, k=ctx.k, alpha=ctx.alpha),
                 f"Explained variance per component (bars) and cumulative (line)"
                 + (f", with {ctx.level} bootstrap intervals" if cfg.bootstrap else "") + f"; K = {ctx.k} kept."),
        w.figure("k_selection", plotting.plot_k_selection(ctx.selection),
                 "Choice of K. Left: held-out-cell RMSE of K-component reconstructions (5-fold, 4 repeats; "
                 "standardized units). Right: eigenvalues against those of column-permuted data."),
        w.figure("loadings", plotting.plot_loadings(caps, alpha=ctx.alpha),
                 "Loadings of the kept components (signs: loadings sum to a positive number, so higher = more "
                 "capable); column labels are derived from the benchmarks that carry each component."),
        w.table("explained_variance", caps.variance_table(ctx.alpha).rename_axis("component"),
                "Explained variance" + (f" with {ctx.level} bootstrap intervals" if cfg.bootstrap else "")),
        w.table("interpretation", caps.interpretation(), "What each component measures"),
        w.table("k_selection", ctx.selection.tidy(), "Evidence for K (tidy)",
                shown=ctx.selection.cv.reset_index()),
        w.table("capabilities", caps.tidy(ctx.alpha), "Explained variance and loadings (tidy)",
                shown=caps.loadings_long(ctx.alpha).set_index(["component", "benchmark"])),
        w.table("scores", ctx.panel.meta[["family", "log10_flops"]].join(caps.scores), "Capability scores of every model"),
    )
    return section


# ---------------------------------------------------------------------------------------------- laws
def _split(ctx: Context, spec: TargetSpec):
    if spec.holdout_top is not None:
        return top_fraction_split(ctx.panel, spec.holdout_top, by="pc1", exclude_from_pca=spec.exclude_from_pca)
    return compute_split(ctx.panel, spec.cutoff)


def _main_predictor(ctx: Context) -> str:
    return f"pcs:{ctx.k}"


def run_target(ctx: Context, spec: TargetSpec) -> TargetResult:
    """Backtest every predictor of a target on its split; the PC law's f-equivalent FLOPs."""
    result = TargetResult(spec)
    main = _main_predictor(ctx)
    predictors = list(dict.fromkeys([main, *spec.predictors]))
    with collect_warnings(result.problems):
        result.backtest = backtest(ctx.panel, [spec.name], predictors=predictors, split=_split(ctx, spec),
                                   exclude_from_pca=spec.exclude_from_pca,
                                   law=LawOptions(bounds=spec.bounds, loss=spec.loss), alpha=ctx.alpha)
        result.fit = result.backtest.fits.get((spec.name, main))
        if result.fit is None:
            result.problems.append(f"the law {spec.name} ~ {main} could not be fitted: "
                                   f"{result.backtest.table.at[(spec.name, main), 'message']}")
        else:
            try:
                result.equivalent = result.fit.equivalent_flops(reference_family=ctx.reference_family,
                                                                alpha=ctx.alpha)
            except FitError as err:
                result.problems.append(f"f-equivalent FLOPs on {ctx.reference_family} could not be computed: {err}")
    return result


def _split_text(spec: TargetSpec, result: TargetResult) -> str:
    split = result.backtest.splits[spec.name]
    how = (f"the top {spec.holdout_top:.0%} of models by PC-1 are held out" if spec.holdout_top is not None
           else f"models with training FLOPs <= {spec.cutoff:.3g} train the law, the others test it")
    left_out = f"; {len(split.excluded)} models are in neither (no target value or no input of a predictor)" \
        if split.excluded else ""
    return f"Split: {how} ({split.n_train} train, {split.n_test} test{left_out})."


def law_section(ctx: Context, spec: TargetSpec) -> Section:
    """A target's law on K PCs, fitted on the training models, with its backtest against compute baselines."""
    w, s = ctx.writer, slug(spec.name)
    ctx.progress(f"scaling law: {spec.title}")
    result = run_target(ctx, spec)
    ctx.targets.append(result)
    section = Section(f"law-{s}", f"Scaling law: {spec.title}")
    bt, fit, main = result.backtest, result.fit, _main_predictor(ctx)
    section.text(
        f"Target `{spec.name}`; law y = floor + (ceiling - floor) sigmoid(beta' x + alpha) with {LawOptions(bounds=spec.bounds, loss=spec.loss).describe()}. "
        + _split_text(spec, result) + " Imputation and PCA are refitted on the training models; held-out models are "
        "projected on that fit." + (f" Left out of the PCA inputs: {', '.join(spec.exclude_from_pca)}."
                                    if spec.exclude_from_pca else "")
    )
    section.warnings(result.problems)
    winners = bt.winners
    if spec.name in winners.index:
        row = bt.table.loc[(spec.name, winners[spec.name])]
        section.text(f"Lowest held-out MSE: {winners[spec.name]} ({row['mse']:.4g}, SE {row['mse_se']:.2g}, "
                     f"{int(row['n_test'])} test models).")
    if fit is not None and result.equivalent is not None:
        section.add(w.figure(f"curve_{s}", plotting.plot_scaling_curve(
            fit, result.equivalent, cutoff=None if spec.holdout_top is not None else spec.cutoff, alpha=ctx.alpha,
            styles=ctx.styles, target_label=spec.title),
            f"The {main} law of {spec.title} as a curve over {ctx.reference_family}-equivalent FLOPs: training models "
            f"filled, held-out models hollow; the {ctx.level} confidence band (dark) and prediction band (light) "
            "come from the delta method (law coefficients and the reference line; not the PCA's own uncertainty)."
            + ("" if spec.holdout_top is not None else " The dashed line marks the training cutoff on the reference "
               "family's axis (where equivalent and actual FLOPs coincide).")))
    table = bt.table.loc[spec.name].drop(columns=["formula", "message"])
    section.add(
        w.figure(f"backtest_{s}", plotting.plot_backtest(bt, alpha=ctx.alpha, labels={spec.name: spec.title}),
                 f"Held-out test MSE of each predictor on the same models, with {ctx.level} t intervals "
                 "(squared errors are skewed: a rough guide)."),
        w.table(f"backtest_{s}", bt.tidy(), "Held-out errors per predictor", shown=table),
    )
    if "flops" in table.index and table.at["flops", "status"] == "ok":
        compare = bt.compare("flops", alpha=ctx.alpha)
        section.add(w.table(f"compare_{s}", compare.reset_index(),
                            "Paired comparison with the log-FLOPs law on the same test models (mse_diff < 0: the "
                            "predictor is better)", shown=compare.loc[spec.name]))
    if fit is not None:
        section.add(w.table(f"law_{s}", fit.tidy(ctx.alpha), f"Parameters of the {main} law (training models)",
                            shown=fit.law.tidy(ctx.alpha).set_index("term").drop(columns="target")))
        weights = fit.law.benchmark_weights(fit.capabilities.loadings, alpha=ctx.alpha)
        section.add(
            w.figure(f"weights_{s}", plotting.plot_benchmark_weights(weights, title=f"Weights: {spec.title}",
                                                                     level=1 - ctx.alpha),
                     "The law's weights in benchmark space (gamma beta: change of the logit per unit of each "
                     "benchmark), delta-method intervals with the loadings held fixed."),
            w.table(f"weights_{s}", weights.rename_axis("benchmark").reset_index(), "Weights in benchmark space",
                    shown=weights.rename_axis("benchmark")),
            w.table(f"predictions_{s}", fit.predictions(ctx.alpha, include_train=True).reset_index(),
                    f"Per-model predictions of the {main} law ({ctx.level} intervals)",
                    shown=fit.predictions(ctx.alpha, include_train=True)),
        )
    return section


# ---------------------------------------------------------------------------------------------- equivalent FLOPs
def equivalent_section(ctx: Context) -> Section | None:
    usable = [r for r in ctx.targets if r.equivalent is not None]
    if not ctx.targets:
        return None
    w = ctx.writer
    section = Section("equivalent", "f-equivalent FLOPs")
    section.text(
        f"Each law's aggregate capability P = beta' S + alpha is regressed on log10 FLOPs within the reference family "
        f"{ctx.reference_family} (OLS, P = w log10 C + b); a model's {ctx.reference_family}-equivalent FLOPs "
        f"(log10 C-bar = (P - b) / w) are the compute a {ctx.reference_family} model would need to match it. "
        "Standard errors by the delta method: the law's coefficients and the reference models' scatter."
    )
    for result in ctx.targets:
        if result.equivalent is None:
            section.text(f"{result.spec.title}: no f-equivalent FLOPs (see its law section).", "warning")
    for result in usable:
        eq, s, title = result.equivalent, slug(result.spec.name), result.spec.title
        line = eq.summary(ctx.alpha).tables[0][1]
        section.add(
            w.table(f"equivalent_line_{s}", eq.tidy(ctx.alpha), f"{title}: reference line P = w log10 C + b",
                    shown=line),
            w.figure(f"equivalent_{s}", plotting.plot_equivalent_flops(eq, alpha=ctx.alpha, styles=ctx.styles),
                     f"{title}: every model's {ctx.reference_family}-equivalent FLOPs against its actual training "
                     f"FLOPs ({ctx.level} intervals); above the diagonal = more capability per FLOP than "
                     f"{ctx.reference_family}."),
            w.table(f"equivalent_models_{s}", eq.per_model(ctx.alpha).rename_axis("model").reset_index(),
                    f"{title}: equivalent FLOPs per model",
                    shown=eq.per_model(ctx.alpha).sort_values("log10_flops_equivalent", ascending=False)),
        )
    return section
