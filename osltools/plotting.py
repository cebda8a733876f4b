"""Figures of observational scaling analyses (matplotlib and seaborn).

Every function takes fitted Results (or their tidy frames) and returns a
:class:`matplotlib.figure.Figure`. Nothing here fits anything: the numbers
drawn are read from the Results (``variance_table``, ``loadings_long``,
``predictions``, ``curve``, ``per_model``, ``family_table``, ``efficiency``,
``band`` ...), so a figure always shows exactly what a report's tables say.

Families keep ONE colour and marker in every figure: :func:`family_styles`
maps a family name to its :class:`FamilyStyle`. The paper's families and the
simulator's have fixed slots (so their style never depends on which other
families are drawn); other families get a slot from a hash of their name.
Figures are built on :class:`~matplotlib.figure.Figure` objects, not pyplot,
so nothing touches pyplot's global figure registry; a figure is closed by
dropping it.

Conventions: axes carry units ("log10 training FLOPs"); training models are
filled markers and held-out models hollow ones; legends go outside the axes
(in two columns beyond 14 entries).
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .exceptions import ConfigError

__all__ = [
    "FamilyStyle", "family_styles", "FLOPS_LABEL", "equivalent_label", "plot_missingness", "plot_scree",
    "plot_k_selection", "plot_loadings", "plot_capability_vs_compute", "plot_efficiency", "plot_scaling_curve",
    "plot_equivalent_flops", "plot_backtest", "plot_gap_curves", "plot_benchmark_weights",
]

FLOPS_LABEL = "log10 training FLOPs"
#: Colours of the family slots: matplotlib's tab10 and two more dark ones.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#a6761d", "#000075")
#: Fillable markers (held-out models are drawn hollow).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "p", "*", "d", "H", "8")
N_SLOTS = len(PALETTE) * len(MARKERS)
#: Families with fixed slots: the public data's base and instruction-tuned families, then the simulator's.
KNOWN_FAMILIES = (
    "Llama-2", "Llama", "Llama-3", "Qwen1.5", "Qwen", "Mistral", "Mixtral", "Yi", "Gemma", "Falcon", "Phi", "Pythia",
    "BLOOM", "GPT-Neo/J", "OPT", "MPT", "XGLM", "CodeLlama", "StarCoder", "StarCoder2", "DeepSeek-Coder",
    "Llama-3.1", "Qwen2", "DeepSeek-V2", "DeepSeek-Coder-V2", "Yi-1.5", "Gemma-2", "Jamba", "Yi-200K", "OpenLlamaV2",
    "OpenLlama", "GPT-2", "InternLM2", "DeepSeek-LLM", "DeepSeek-MoE", "DeciLM", "StableLM", "RWKV",
    "RedPajama-INCITE-Base", "Amber", "Codegen", "SmolLM", "Cerebras-GPT", "BTLM", "H2O-Danube", "OLMo", "TinyLlama",
    "Llama-2-Chat", "GPT-4", "Claude-2", "Claude-1", "GPT-3.5-Turbo", "Claude-Instant", "Codellama-Instruct",
    "Vicuna", "OpenChat", "WizardLM", "Guanaco", "Koala", "Dolly-v2", "Oasst-SFT", "Deepseek-LLM-Chat",
    "Lemur-Chat", "Mistral-Instruct",
    "Alfa", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett", "Kilo", "Lima",
    "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo", "Sierra", "Tango", "Uniform", "Victor", "Whiskey",
    "Xray", "Yankee", "Zulu",
)
_KNOWN_SLOT = {name: i for i, name in enumerate(KNOWN_FAMILIES)}
LEGEND_COLUMNS_FROM = 15  # legends with more entries than this use two columns
_RC = {"axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
       "legend.fontsize": 8, "legend.title_fontsize": 9, "figure.dpi": 100}


class FamilyStyle(NamedTuple):
    """How one family is drawn: a colour and a (fillable) marker."""

    colour: str
    marker: str


def _slot_style(slot: int) -> FamilyStyle:
    # slot = 12 q + r -> colour r, marker (7 q + r) mod 15 (7 is prime to 15): all 180 pairs differ
    q, r = divmod(slot % N_SLOTS, len(PALETTE))
    return FamilyStyle(PALETTE[r], MARKERS[(7 * q + r) % len(MARKERS)])


_FREE_SLOTS = tuple(range(len(KNOWN_FAMILIES), N_SLOTS))


def _hash_slot(name: str) -> int:
    """Position of a new family's slot among the slots no known family has."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(_FREE_SLOTS)


def family_styles(families: Iterable[str]) -> dict[str, FamilyStyle]:
    """The colour and marker of each family, keyed by family name.

    Known families (the public data's and the simulator's) have fixed slots,
    so their style is the same whatever else is drawn. Another family gets
    one of the remaining slots from a hash of its name, moved on to the next
    remaining slot when another new family (earlier in name order) took it;
    only such collisions can make a new family's style depend on the others,
    so build the mapping once from all families and pass it to every figure
    (the report does).

    Examples
    --------
    >>> styles = family_styles(["Llama-2", "Phi", "my-family"])
    >>> styles["Llama-2"] == family_styles(["Llama-2"])["Llama-2"]
    True
    """
    names = list(dict.fromkeys(str(f) for f in families))
    slots = {n: _KNOWN_SLOT[n] for n in names if n in _KNOWN_SLOT}
    taken: set[int] = set()
    for name in sorted(n for n in names if n not in _KNOWN_SLOT):
        start = _hash_slot(name)
        free = [(start + step) % len(_FREE_SLOTS) for step in range(len(_FREE_SLOTS))]
        position = next((p for p in free if p not in taken), start)  # all taken: share a slot
        taken.add(position)
        slots[name] = _FREE_SLOTS[position]
    return {n: _slot_style(slots[n]) for n in names}


def equivalent_label(reference_family: str) -> str:
    """Axis label of f-equivalent FLOPs, e.g. ``"f-equivalent FLOPs (log10, Llama-2)"``."""
    return f"f-equivalent FLOPs (log10, {reference_family})"


# ---------------------------------------------------------------------------------------------- helpers
def _styled(func: Callable) -> Callable:
    """Run a figure function with the module's text sizes and seaborn's whitegrid style (restored afterwards)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(_RC), sns.axes_style("whitegrid"):
            return func(*args, **kwargs)

    return wrapper


def _figure(width: float = 7.0, height: float = 4.2, ncols: int = 1, nrows: int = 1) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=True)


def _styles_for(families: Iterable[str], styles: Mapping[str, FamilyStyle] | None) -> dict[str, FamilyStyle]:
    names = [str(f) for f in dict.fromkeys(families) if pd.notna(f)]
    given = dict(styles or {})
    missing = [f for f in names if f not in given]
    return {**family_styles(missing), **given} if missing else given


def _outside_legend(fig: Figure, handles: Sequence, labels: Sequence[str], title: str | None = None) -> None:
    if not handles:
        return
    ncols = 1 if len(handles) <= LEGEND_COLUMNS_FROM else 2
    if ncols == 2:  # the second column takes room from the axes: widen the figure instead
        fig.set_figwidth(fig.get_figwidth() + 2.5)
    fig.legend(handles, labels, loc="outside right upper", ncols=ncols, title=title, frameon=False)


def _family_handles(families: Sequence[str], styles: Mapping[str, FamilyStyle]) -> list[Line2D]:
    return [Line2D([], [], linestyle="", marker=styles[f].marker, color=styles[f].colour, markersize=6) for f in families]


def _role_handles() -> tuple[list[Line2D], list[str]]:
    filled = Line2D([], [], linestyle="", marker="o", color="0.3", markersize=6)
    hollow = Line2D([], [], linestyle="", marker="o", markerfacecolor="white", markeredgecolor="0.3", markersize=6)
    return [filled, hollow], ["training models (filled)", "held-out models (hollow)"]


def _scatter_families(ax, frame: pd.DataFrame, x: str, y: str, styles: Mapping[str, FamilyStyle], *,
                      hollow: pd.Series | None = None, size: float = 30) -> list[str]:
    """One scatter per family (its colour and marker); ``hollow`` marks points drawn unfilled. Returns families drawn."""
    drawn = []
    for family, part in frame.groupby("family", sort=True):
        style = styles[str(family)]
        open_ = hollow.reindex(part.index).fillna(False).astype(bool) if hollow is not None else \
            pd.Series(False, index=part.index)
        for is_open, sub in part.groupby(open_.to_numpy()):
            ax.scatter(sub[x], sub[y], marker=style.marker, s=size, linewidths=1.1, zorder=3,
                       facecolors="white" if is_open else style.colour, edgecolors=style.colour)
        drawn.append(str(family))
    return drawn


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha!r} is not accepted (expected a number in (0, 1), e.g. 0.05)")


def _label(ax, *, x: str, y: str, title: str | None = None) -> None:
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if title:
        ax.set_title(title)


# ---------------------------------------------------------------------------------------------- data
@_styled
def plot_missingness(missingness: pd.DataFrame) -> Figure:
    """Share of missing scores per benchmark (from :meth:`Panel.missingness`).

    Examples
    --------
    >>> from osltools.datasets import simulate_panel
    >>> fig = plot_missingness(simulate_panel(seed=0).panel.missingness())
    """
    share = missingness["share_missing"].astype(float)
    fig, ax = _figure(6.0, 0.35 * len(share) + 1.4)
    ax.barh(list(map(str, share.index)), share.to_numpy() * 100, color="#7f7f7f")
    for y, (value, n) in enumerate(zip(share.to_numpy(), missingness["missing"].to_numpy())):
        ax.text(value * 100, y, f"  {int(n)}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(5.0, float(share.max()) * 100 * 1.25))
    _label(ax, x="missing scores (% of models)", y="benchmark", title="Missing scores per benchmark (count at bar end)")
    return fig


# ---------------------------------------------------------------------------------------------- capability space
@_styled
def plot_scree(caps: Any, *, k: int | None = None, alpha: float = 0.05) -> Figure:
    """Explained variance per component and cumulatively, with bootstrap CIs when run, and the chosen K.

    Parameters
    ----------
    caps : CapabilityResults (``variance_table(alpha)`` is read).
    k : the K to mark (default: the components kept by ``caps``).
    """
    _check_alpha(alpha)
    table = caps.variance_table(alpha)
    k = caps.n_components if k is None else k
    x = np.arange(1, len(table) + 1)
    ratio, cumulative = table["explained_variance_ratio"] * 100, table["cumulative_ratio"] * 100
    fig, ax = _figure(6.5, 4.0)
    ax.bar(x, ratio, color="#1f77b4", alpha=0.8, label="per component")
    ax.plot(x, cumulative, marker="o", color="#d62728", label="cumulative")
    level = f"{1 - alpha:.0%}"
    if "explained_variance_ratio_lower" in table:
        err = np.vstack([ratio - table["explained_variance_ratio_lower"] * 100,
                         table["explained_variance_ratio_upper"] * 100 - ratio])
        ax.errorbar(x, ratio, yerr=np.clip(err, 0, None), fmt="none", ecolor="black", capsize=3,
                    label=f"{level} bootstrap CI")
        ax.fill_between(x, table["cumulative_ratio_lower"] * 100, table["cumulative_ratio_upper"] * 100,
                        color="#d62728", alpha=0.2, linewidth=0)
    ax.axvline(k + 0.5, color="0.2", linestyle="--", linewidth=1)
    ax.text(k + 0.55, 50, f"K = {k} kept\n({cumulative.iloc[k - 1]:.1f}% of variance)", fontsize=9, va="center")
    ax.set_xticks(x, list(table.index))
    ax.set_ylim(0, 105)
    _label(ax, x="principal component", y="explained variance (%)", title="Explained variance of the benchmark scores")
    ax.legend(loc="center right", frameon=True)
    return fig


@_styled
def plot_k_selection(selection: Any) -> Figure:
    """The evidence for K (a :class:`~osltools.dimension.ComponentSelection`): held-out-cell RMSE and parallel analysis."""
    fig, (left, right) = _figure(9.0, 3.8, ncols=2)
    cv = selection.cv
    left.errorbar(cv.index, cv["rmse"], yerr=cv["se"], marker="o", capsize=3, color="#1f77b4", label="RMSE +- 1 SE")
    left.axvline(selection.recommended, color="#d62728", linestyle="--", label=f"recommended K = {selection.recommended}")
    if selection.k_one_se != selection.recommended:
        left.axvline(selection.k_one_se, color="0.4", linestyle=":", label=f"one-SE rule K = {selection.k_one_se}")
    left.set_xticks(list(cv.index))
    _label(left, x="number of components K (0 = column means)", y="held-out-cell RMSE (standardized units)",
           title="Cross-validated reconstruction")
    left.legend(frameon=True)
    pa = selection.parallel
    x = np.arange(1, len(pa) + 1)
    right.plot(x, pa["eigenvalue"], marker="o", color="#1f77b4", label="observed")
    right.plot(x, pa["null_quantile"], marker="s", linestyle="--", color="0.4",
               label=f"permuted, {1 - selection.alpha:.0%} quantile")
    right.set_yscale("log")
    right.set_xticks(x, list(pa.index))
    _label(right, x="principal component", y="eigenvalue (log scale)",
           title=f"Parallel analysis (keeps K = {selection.k_parallel})")
    right.legend(frameon=True)
    return fig


@_styled
def plot_loadings(caps: Any, *, alpha: float = 0.05) -> Figure:
    """Heatmap of the loadings (benchmark x component) with each component's label; CIs in the cells after a bootstrap."""
    _check_alpha(alpha)
    long = caps.loadings_long(alpha)
    values = caps.loadings
    annot = values.map(lambda v: f"{v:.2f}")
    if "lower" in long:
        ci = long.set_index(["benchmark", "component"])
        annot = pd.DataFrame({c: [f"{values.at[b, c]:.2f}\n[{ci.at[(b, c), 'lower']:.2f}, {ci.at[(b, c), 'upper']:.2f}]"
                                  for b in values.index] for c in values.columns}, index=values.index)
    columns = [f"{c}\n{caps.labels[c]}" for c in values.columns]
    fig, ax = _figure(1.9 * values.shape[1] + 2.6, 0.55 * values.shape[0] + 1.6)
    limit = float(np.abs(values.to_numpy()).max())
    with warnings.catch_warnings():  # seaborn 0.13 calls Colormap.set_bad, pending deprecation in matplotlib 3.11
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        sns.heatmap(values.set_axis(columns, axis=1), ax=ax, cmap="RdBu_r", vmin=-limit, vmax=limit, center=0,
                    annot=annot.to_numpy(), fmt="", annot_kws={"fontsize": 8}, linewidths=0.5,
                    cbar_kws={"label": "loading"})
    _label(ax, x="component (derived label)", y="benchmark", title="Loadings of the principal capabilities")
    ax.tick_params(axis="x", rotation=0)
    if "lower" in long:
        ax.set_title(f"Loadings [{1 - alpha:.0%} bootstrap intervals]")
    return fig


# ---------------------------------------------------------------------------------------------- log-linearity
@_styled
def plot_capability_vs_compute(loglinear: Any, *, component: str | None = None, alpha: float = 0.05,
                               styles: Mapping[str, FamilyStyle] | None = None, others: pd.DataFrame | None = None,
                               n: int = 30) -> Figure:
    """A component against log10 training FLOPs by family, with each family's fitted line and confidence band.

    Parameters
    ----------
    loglinear : FamilyScalingResults (its ``data`` and ``get_prediction`` are read).
    component : which component (default the first fitted).
    others : models of families too small for a line (a frame with ``family``, the compute column and the
        component, e.g. ``CapabilityResults.frame()``): drawn as points only, "(no line)" in the legend.
    """
    _check_alpha(alpha)
    component = component or loglinear.components[0]
    data = loglinear.data
    x = loglinear.model.compute
    extra = pd.DataFrame(columns=["family", x, component])
    if others is not None:
        extra = others.loc[~others["family"].isin(loglinear.fitted_families), ["family", x, component]].dropna()
    styles = _styles_for(pd.concat([data["family"], extra["family"]]), styles)
    fig, ax = _figure(8.0, 4.8)
    drawn = _scatter_families(ax, data, x, component, styles)
    for family in loglinear.fitted_families:
        part = data[data["family"] == family]
        grid = np.linspace(part[x].min(), part[x].max(), n)
        prediction = loglinear.get_prediction(family=family, log10_flops=grid, component=component, alpha=alpha)
        band = prediction.summary_frame(alpha)
        colour = styles[str(family)].colour
        ax.plot(grid, band["mean"], color=colour, linewidth=1.3)
        ax.fill_between(grid, band["mean_ci_lower"], band["mean_ci_upper"], color=colour, alpha=0.12, linewidth=0)
    points_only = _scatter_families(ax, extra, x, component, styles) if len(extra) else []
    _label(ax, x=FLOPS_LABEL, y=f"{component} (capability score)",
           title=f"{component} by family ({1 - alpha:.0%} confidence bands)")
    _outside_legend(fig, _family_handles(drawn + points_only, styles),
                    drawn + [f"{f} (no line)" for f in points_only], title="family")
    return fig


@_styled
def plot_efficiency(loglinear: Any, *, component: str | None = None, alpha: float | None = None,
                    styles: Mapping[str, FamilyStyle] | None = None) -> Figure:
    """Compute-efficiency ranking: each family's expected component at the reference compute, with its CI."""
    component = component or loglinear.components[0]
    table = loglinear.efficiency(component, alpha=alpha)
    level = 1 - (loglinear.model.alpha if alpha is None else alpha)
    styles = _styles_for(table.index, styles)
    fig, ax = _figure(7.0, 0.32 * len(table) + 1.6)
    for y, (family, row) in enumerate(table.iterrows()):
        style = styles[str(family)]
        ax.plot([row["level_lower"], row["level_upper"]], [y, y], color=style.colour, linewidth=2)
        ax.scatter([row["level"]], [y], marker=style.marker, s=40, zorder=3,
                   facecolors="white" if row["extrapolated"] else style.colour, edgecolors=style.colour)
    ax.set_yticks(range(len(table)), [f"{r}. {f}" for f, r in zip(table.index, table["rank"])])
    ax.invert_yaxis()
    ref = table.attrs.get("reference_compute", loglinear.reference_compute)
    _label(ax, x=f"expected {component} at log10 training FLOPs = {ref:.3g}", y="family (rank)",
           title=f"Compute efficiency ({level:.0%} CIs)")
    return fig


# ---------------------------------------------------------------------------------------------- laws
@_styled
def plot_scaling_curve(fit: Any, equivalent: Any, *, cutoff: float | None = None, alpha: float = 0.05,
                       styles: Mapping[str, FamilyStyle] | None = None, target_label: str | None = None) -> Figure:
    """A held-out law as a sigmoid over f-equivalent FLOPs: training and held-out models, curve, bands, cutoff.

    Parameters
    ----------
    fit : HeldOutFit (``predictions(include_train=True)`` gives roles and observed values).
    equivalent : EquivalentFlops of that fit's law (``per_model`` places the models, ``curve`` gives the bands).
    cutoff : training FLOPs of the split (drawn on the reference family's axis, where f-equivalent FLOPs equal
        actual FLOPs by construction).
    """
    _check_alpha(alpha)
    pred = fit.predictions(alpha, include_train=True)
    per = equivalent.per_model(alpha)
    frame = pred[["role", "family", "observed"]].join(per[["log10_flops_equivalent"]], how="inner")
    curve = equivalent.curve(alpha=alpha)
    styles = _styles_for(frame["family"], styles)
    fig, ax = _figure(8.0, 4.8)
    xs = curve.index.to_numpy()
    level = f"{1 - alpha:.0%}"
    ax.fill_between(xs, curve["obs_ci_lower"], curve["obs_ci_upper"], color="0.6", alpha=0.2, linewidth=0,
                    label=f"{level} prediction band")
    ax.fill_between(xs, curve["mean_ci_lower"], curve["mean_ci_upper"], color="0.3", alpha=0.3, linewidth=0,
                    label=f"{level} confidence band")
    ax.plot(xs, curve["mean"], color="black", linewidth=1.6, label="fitted law")
    drawn = _scatter_families(ax, frame, "log10_flops_equivalent", "observed", styles, hollow=frame["role"] == "test")
    if cutoff is not None:
        ax.axvline(np.log10(cutoff), color="#d62728", linestyle="--", linewidth=1.2,
                   label=f"training cutoff {cutoff:.2g} FLOPs\n(actual compute; other families'\n"
                         "models can sit on either side)")
    _label(ax, x=equivalent_label(equivalent.reference_family), y=target_label or fit.target,
           title=f"{target_label or fit.target} ~ {fit.predictor}")
    band_handles, band_labels = ax.get_legend_handles_labels()
    role_handles, role_labels = _role_handles()
    _outside_legend(fig, band_handles + role_handles + _family_handles(drawn, styles),
                    band_labels + role_labels + drawn)
    return fig


@_styled
def plot_equivalent_flops(equivalent: Any, *, alpha: float = 0.05,
                          styles: Mapping[str, FamilyStyle] | None = None) -> Figure:
    """Every model's f-equivalent FLOPs (with CI) against its actual training FLOPs; the diagonal is the reference."""
    _check_alpha(alpha)
    per = equivalent.per_model(alpha).dropna(subset=["log10_flops"])
    styles = _styles_for(per["family"], styles)
    fig, ax = _figure(7.5, 5.0)
    for family, part in per.groupby("family", sort=True):
        centre = part["log10_flops_equivalent"]
        ax.errorbar(part["log10_flops"], centre, yerr=[centre - part["ci_lower"], part["ci_upper"] - centre],
                    fmt="none", ecolor=styles[str(family)].colour, alpha=0.4, linewidth=0.8)
    drawn = _scatter_families(ax, per, "log10_flops", "log10_flops_equivalent", styles)
    low = float(min(per["log10_flops"].min(), per["log10_flops_equivalent"].min()))
    high = float(max(per["log10_flops"].max(), per["log10_flops_equivalent"].max()))
    ax.plot([low, high], [low, high], color="0.2", linestyle="--", linewidth=1,
            label=f"as efficient as {equivalent.reference_family}")
    _label(ax, x=FLOPS_LABEL, y=equivalent_label(equivalent.reference_family),
           title=f"Equivalent vs actual compute ({1 - alpha:.0%} CIs)")
    handles, labels = ax.get_legend_handles_labels()
    _outside_legend(fig, handles + _family_handles(drawn, styles), labels + drawn)
    return fig


@_styled
def plot_backtest(backtest: Any, *, alpha: float = 0.05, labels: Mapping[str, str] | None = None) -> Figure:
    """Held-out test MSE of every predictor (with its CI), one panel per target; the best predictor in red."""
    _check_alpha(alpha)
    table = backtest.table
    ci = backtest.conf_int(alpha)
    targets = list(dict.fromkeys(table.index.get_level_values("target")))
    fig, axes = _figure(4.2 * min(len(targets), 3), 0.32 * table.index.get_level_values("predictor").nunique() + 1.8,
                        ncols=min(len(targets), 3), nrows=int(np.ceil(len(targets) / 3)))
    axes = np.atleast_1d(axes).ravel()
    for ax, target in zip(axes, targets):
        block, bounds = table.loc[target], ci.loc[target]
        for y, (predictor, row) in enumerate(block.iterrows()):
            if row["status"] != "ok":
                ax.text(0.02, y, f"{predictor}: failed", transform=ax.get_yaxis_transform(), va="center", fontsize=8,
                        color="0.4")
                continue
            colour = "#d62728" if row["best"] else "#1f77b4"
            low = max(float(bounds.at[predictor, "lower"]), float(row["mse"]) * 1e-3)
            ax.plot([low, bounds.at[predictor, "upper"]], [y, y], color=colour, linewidth=1.5)
            ax.scatter([row["mse"]], [y], color=colour, zorder=3, s=25)
        ax.set_yticks(range(len(block)), list(block.index))
        ax.invert_yaxis()
        ax.set_xscale("log")
        _label(ax, x="test MSE (log scale)", y="predictor", title=(labels or {}).get(target, target))
    for ax in axes[len(targets):]:
        ax.set_visible(False)
    fig.suptitle(f"Held-out test MSE ({1 - alpha:.0%} t intervals; red = lowest)", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------- interventions
@_styled
def plot_gap_curves(gaps: Any, *, alpha: float | None = None, names: Sequence[str] | None = None) -> Figure:
    """Gap curves (intervention minus base, or between interventions) over f-equivalent FLOPs with bootstrap bands.

    Parameters
    ----------
    gaps : GapResults (``comparisons`` and ``band(name, alpha)`` are read).
    names : comparisons to draw (default all), or metric labels to draw the metrics' fitted curves instead.
    """
    names = list(names) if names is not None else list(gaps.comparisons.index)
    curves = set(names) <= set(gaps.metrics)  # the metrics' own curves rather than gaps
    fig, ax = _figure(8.0, 4.6)
    colours = sns.color_palette("dark", len(names))
    for colour, name in zip(colours, names):
        band = gaps.band(name, alpha)
        xs = band.index.to_numpy()
        ax.plot(xs, band["estimate"], color=colour, linewidth=1.8, label=name)
        ax.fill_between(xs, band["lower"], band["upper"], color=colour, alpha=0.2, linewidth=0)
        if "simultaneous_lower" in band:
            ax.plot(xs, band["simultaneous_lower"], color=colour, linestyle=":", linewidth=1)
            ax.plot(xs, band["simultaneous_upper"], color=colour, linestyle=":", linewidth=1)
    if not curves:
        ax.axhline(0, color="0.2", linewidth=0.8)
    low, high = gaps.reference_range
    ax.axvspan(low, high, color="0.85", alpha=0.5, zorder=0, label=f"{gaps.reference_family} models' range")
    level = 1 - (gaps.alpha if alpha is None else alpha)
    _label(ax, x=equivalent_label(gaps.reference_family),
           y="fitted metric" if curves else "gap in the metric (difference of fitted curves)",
           title=f"{'Fitted curves' if curves else 'Intervention gaps'} ({level:.0%} bootstrap bands)")
    handles, labels = ax.get_legend_handles_labels()
    _outside_legend(fig, handles, labels)
    return fig


@_styled
def plot_benchmark_weights(weights: pd.DataFrame | Mapping[str, pd.DataFrame], *, title: str | None = None,
                           level: float | None = None) -> Figure:
    """A law's weights in benchmark space with CIs; several laws side by side (a mapping name -> frame).

    Each frame is indexed by benchmark with columns ``weight``, ``lower``,
    ``upper`` (e.g. :meth:`LawResults.benchmark_weights`); a long frame with a
    ``law`` column is split by it.
    """
    if isinstance(weights, pd.DataFrame) and "law" in weights.columns:
        weights = {str(law): part.drop(columns="law").set_index("benchmark") if "benchmark" in part.columns
                   else part.drop(columns="law") for law, part in weights.groupby("law", sort=False)}
    elif isinstance(weights, pd.DataFrame):
        weights = {"law": weights}
    laws = list(weights)
    benchmarks = list(dict.fromkeys(b for frame in weights.values() for b in frame.index))
    fig, ax = _figure(7.0, 0.28 * len(benchmarks) * len(laws) ** 0.5 + 1.8)
    colours = sns.color_palette("dark", len(laws))
    height = 0.8 / len(laws)
    for j, (law, colour) in enumerate(zip(laws, colours)):
        frame = weights[law].reindex(benchmarks)
        ys = np.arange(len(benchmarks)) - 0.4 + height * (j + 0.5)
        ax.barh(ys, frame["weight"], height=height * 0.9, color=colour, alpha=0.75, label=law)
        if {"lower", "upper"} <= set(frame.columns):
            err = np.vstack([frame["weight"] - frame["lower"], frame["upper"] - frame["weight"]])
            ax.errorbar(frame["weight"], ys, xerr=np.clip(err, 0, None), fmt="none", ecolor="black", capsize=2,
                        linewidth=0.9)
    ax.axvline(0, color="0.2", linewidth=0.8)
    ax.set_yticks(range(len(benchmarks)), benchmarks)
    ax.invert_yaxis()
    shown = f" ({level:.0%} CIs)" if level else " (with CIs)"
    _label(ax, x="weight (change of the law's logit per unit of benchmark accuracy)", y="benchmark",
           title=(title or "Weights of the law in benchmark space") + shown)
    if len(laws) > 1:
        handles, labels = ax.get_legend_handles_labels()
        _outside_legend(fig, handles, labels, title="law")
    return fig
