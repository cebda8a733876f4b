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
from ..exceptions import FitError, OSLError, OSLWarning
from ..validation import LawOptions, backtest, compute_split, top_fraction_split
from .config import ReportConfig, TargetSpec
from .document import ReportWriter, Section, slug

__all__ = ["Context", "TargetResult", "data_section", "capability_section", "loglinear_section", "law_section",
           "interventions_section", "equivalent_section"]


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
    loglinear: Any = None  # FamilyScalingResults, or None when no family could be fitted
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


# ---------------------------------------------------------------------------------------------- log-linearity
def loglinear_section(ctx: Context) -> Section:
    """Per-family OLS of the kept components on log10 FLOPs, the pooled tests, flagged models, efficiency ranking."""
    from ..loglinear import FamilyScaling

    w = ctx.writer
    section = Section("loglinearity", "Log-linearity in compute, per family")
    components = list(ctx.caps.components)
    problems: list[str] = []
    ctx.progress("log-linearity: per-family OLS and pooled tests")
    with collect_warnings(problems):
        reference = ctx.reference_family if ctx.reference_family in set(ctx.panel.families) else None
        try:
            res = FamilyScaling.from_capabilities(ctx.caps, components=components, reference=reference,
                                                  alpha=ctx.alpha).fit()
        except OSLError as err:
            res = None
            problems.append(f"no per-family fit was possible: {err}")
    ctx.loglinear = res
    if res is None:
        section.warnings(problems)
        return section
    pooled = res.pooled
    section.text(
        f"Eq. (4) of the method: within each family the capabilities are linear in log10 training FLOPs. Per family "
        f"and component an OLS line ({len(res.fitted_families)} families with at least {res.model.min_models} models "
        f"with compute; {len(res.excluded)} left out), with a quadratic term as a test of linearity; pooled over "
        "families, an F-test of equal slopes, a common quadratic term and RESET. p-values of per-family tests are "
        f"adjusted across families ({res.model.multitest})."
    )
    for c in components:
        row = pooled.loc[c]
        section.text(
            f"{c}: common slope {row['common_slope']:.3g} per decade of FLOPs ({ctx.level} CI "
            f"[{row['common_slope_lower']:.3g}, {row['common_slope_upper']:.3g}]); equal slopes across families "
            f"{'rejected' if row['homogeneity_p'] < ctx.alpha else 'not rejected'} (F = {row['homogeneity_F']:.3g}, "
            f"p = {row['homogeneity_p']:.3g}); pooled quadratic term p = {row['quad_p']:.3g}, RESET p = "
            f"{row['reset_p']:.3g}."
        )
    section.warnings(problems)
    flagged = res.flagged
    if len(flagged):
        section.text(f"{len(flagged)} flags on {flagged.index.nunique()} models (outlying or influential in the "
                     "family-slopes model): check their size and token counts.", "warning")
    frame = ctx.caps.frame()
    section.add(w.figure("pc1_vs_compute", plotting.plot_capability_vs_compute(
        res, component=components[0], alpha=ctx.alpha, styles=ctx.styles, others=frame),
        f"{components[0]} against log10 training FLOPs: each family's OLS line over its own compute range with its "
        f"{ctx.level} confidence band (families with at least {res.model.min_models} models with compute; the models "
        "of smaller families are drawn without a line)."))
    for c in components[1:]:
        section.add(w.figure(f"{c.lower()}_vs_compute", plotting.plot_capability_vs_compute(
            res, component=c, alpha=ctx.alpha, styles=ctx.styles, others=frame),
            f"{c} against log10 training FLOPs by family."))
    efficiency = res.efficiency(components[0])
    section.add(
        w.figure("efficiency", plotting.plot_efficiency(res, component=components[0], styles=ctx.styles),
                 f"Compute efficiency: each family's expected {components[0]} at log10 FLOPs = "
                 f"{res.reference_compute:.3g} ({ctx.level} CIs; hollow markers: the family's models do not span that "
                 "compute, so its value is extrapolated). Overlapping intervals leave the order open."),
        w.table("loglinear", res.tidy(), "Per-family and pooled estimates (tidy)",
                shown=res.family_table(components[0])[["n", "df_resid", "slope", "slope_lower", "slope_upper",
                                                       "slope_p_adj", "r2", "quad_p", "quad_p_adj", "fragile"]]),
        w.table("loglinear_tests", res.tests(), "Every test of log-linearity and slope homogeneity",
                shown=res.tests().set_index(["component", "test", "family"])),
        w.table("efficiency", efficiency, f"Compute efficiency ranking ({components[0]})",
                shown=efficiency[["n", "level", "level_lower", "level_upper", "rank", "offset", "offset_lower",
                                  "offset_upper", "offset_p_adj", "extrapolated"]]),
    )
    if len(flagged):
        section.add(w.table("flagged_models", flagged, "Flagged models (family-slopes model)"))
    if len(res.excluded):
        section.add(w.table("loglinear_excluded", res.excluded, "Families left out (too few models with compute)"))
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
        f"Target `{spec.name}`; law y = floor + (ceiling - floor) sigmoid(beta' x + alpha) with "
        f"{LawOptions(bounds=spec.bounds, loss=spec.loss).describe()}. "
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


# ---------------------------------------------------------------------------------------------- interventions
def interventions_section(ctx: Context) -> Section | None:
    """Gap curves of post-training interventions over f-equivalent FLOPs, with bootstrap bands and tests."""
    spec, cfg, w = ctx.config.interventions, ctx.config, ctx.writer
    if spec is None:
        return None
    from ..interventions import compare_interventions

    section = Section("interventions", "Post-training interventions")
    arms = ", ".join(f"{label} = `{column}`" for label, column in spec.arms)
    section.text(
        f"Base metric `{spec.base}`; interventions {arms}. One law per metric on the same K = {ctx.k} principal "
        f"capabilities ({LawOptions(bounds=spec.bounds, loss=spec.loss).describe()}), each placed on "
        f"{ctx.reference_family}-equivalent FLOPs by its own line; a gap is the difference of two fitted curves. "
        "Bands come from one bootstrap over models that refits imputation, PCA, every law and every line."
    )
    if cfg.bootstrap < 2:
        section.text(f"bootstrap = {cfg.bootstrap}: the gap curves are reported only with their bootstrap bands; "
                     "set bootstrap to 2 or more (200 or more for reporting).", "warning")
        return section
    problems: list[str] = []
    ctx.progress(f"interventions: gap curves, bootstrap of the whole pipeline ({cfg.bootstrap} replicates)")
    with collect_warnings(problems):
        gaps = compare_interventions(ctx.panel, base=spec.base, interventions=dict(spec.arms), n_components=ctx.k,
                                     reference_family=ctx.reference_family,
                                     law=LawOptions(bounds=spec.bounds, loss=spec.loss), n_boot=cfg.bootstrap,
                                     seed=cfg.seed, alpha=ctx.alpha, n_jobs=cfg.n_jobs)
    ctx.extra["interventions"] = gaps
    growth = gaps.growth_tests()
    for name, row in growth.iterrows():
        section.text(
            f"{name}: the gap is {row['gap_low']:.3g} at log10 C-bar = {row['x_low']:.3g} and {row['gap_high']:.3g} at "
            f"{row['x_high']:.3g}; growth {row['growth']:.3g} ({ctx.level} CI [{row['lower']:.3g}, "
            f"{row['upper']:.3g}], bootstrap p = {row['p_value']:.3g})."
        )
    section.warnings(problems)
    reps = gaps.replicates
    if reps.n_failed:
        section.text(f"{reps.n_failed} of {reps.n_requested} bootstrap replicates failed and are left out.", "warning")
    labels = list(gaps.metrics)
    weights = gaps.benchmark_weights()
    section.add(
        w.figure("intervention_gaps", plotting.plot_gap_curves(gaps),
                 f"Gaps between the fitted curves over {ctx.reference_family}-equivalent FLOPs: {ctx.level} pointwise "
                 "bootstrap bands (shaded) and simultaneous sup-t bands (dotted); grey: the reference family's own "
                 "compute range (outside it its line is extrapolated)."),
        w.figure("intervention_curves", plotting.plot_gap_curves(gaps, names=labels),
                 "The fitted curve of every metric with its bootstrap bands."),
        w.figure("intervention_weights", plotting.plot_benchmark_weights(
            {label: weights.xs(label, level="name") for label in labels}, title="Weights per metric",
            level=1 - ctx.alpha),
            "Each metric's law in benchmark space, side by side (gamma beta, bootstrap percentile intervals)."),
        w.table("intervention_growth", growth.reset_index(), "Does the gain grow with scale?", shown=growth),
        w.table("intervention_onsets", gaps.onsets().reset_index(), "Where each gap is significantly positive",
                shown=gaps.onsets()),
        w.table("intervention_peaks", gaps.peaks().reset_index(), "Peak of each gap", shown=gaps.peaks()),
        w.table("intervention_bands", gaps.tidy(), "Curves and gaps on the grid with their bands (tidy)",
                shown=gaps.tidy().iloc[::5].set_index(["kind", "name", "log10_flops_equivalent"])),
        w.table("intervention_weights", weights.reset_index(), "Weights in benchmark space",
                shown=weights["weight"].unstack("name")),
    )
    families = gaps.family_tests()
    if not families.empty:
        section.add(w.table("intervention_families", families.reset_index(),
                            "Families against the pooled curves (Holm-adjusted p-values across families)",
                            shown=families[["n_models", "observed_gain", "predicted_gain", "deviation", "se",
                                            "p_value", "p_holm"]]))
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
