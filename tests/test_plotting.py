"""Figures: one style per family, labelled axes and legends, numbers read from the Results, and no fitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.regression.linear_model as lm
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from osltools import plotting
from osltools.capabilities import CapabilityPCA
from osltools.dimension import select_n_components
from osltools.impute import PCAImputer
from osltools.law import ScalingLaw
from osltools.validation import LawOptions, backtest, compute_split

TARGET = "emergent_task"
# small simulated families: the expected warnings of the analyses are not what these tests are about
pytestmark = pytest.mark.filterwarnings("ignore::osltools.exceptions.SmallFamilyWarning")


@pytest.fixture(scope="module")
def results(sim):
    panel, truth = sim
    caps = CapabilityPCA(n_components=3).fit(panel).bootstrap(n_boot=20, seed=0)
    selection = select_n_components(panel, n_permutations=20, n_repeats=1, seed=0)
    bt = backtest(panel, [TARGET], predictors=["pcs:2", "flops"], split=compute_split(panel),
                  law=LawOptions(bounds="floor"))
    fit = bt.fits[(TARGET, "pcs:2")]
    equivalent = fit.equivalent_flops(reference_family=truth.reference_family)
    return {"panel": panel, "caps": caps, "selection": selection, "backtest": bt, "fit": fit, "equivalent": equivalent}


@pytest.fixture
def no_fitting(monkeypatch):
    """Every fitting entry point raises while a figure is drawn."""

    def refuse(*args, **kwargs):
        raise AssertionError("a plotting function tried to fit something")

    for owner, name in ((ScalingLaw, "fit"), (CapabilityPCA, "fit"), (PCAImputer, "fit"), (lm.OLS, "fit"),
                        (lm.WLS, "fit"), (lm.RegressionModel, "fit")):
        monkeypatch.setattr(owner, name, refuse)


def _labelled(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert visible
    for ax in visible:
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), (ax.get_xlabel(), ax.get_ylabel())
    fig.canvas.draw()  # layout and text rendering succeed


def _legend_labels(fig: Figure) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


# ---------------------------------------------------------------------------------------------- styles
def test_family_styles_are_stable_under_subsetting_and_distinct():
    known = list(plotting.KNOWN_FAMILIES)
    styles = plotting.family_styles(known + ["my-family", "another one"])
    assert len(set(styles.values())) == len(styles)  # one (colour, marker) pair per family
    for subset in (known[:3], known[10:40:3], ["Phi", "my-family"], ["another one"]):
        part = plotting.family_styles(subset)
        assert all(part[f] == styles[f] for f in subset)


def test_family_styles_resolve_hash_collisions_in_name_order(monkeypatch):
    monkeypatch.setattr(plotting, "_hash_slot", lambda name: 0)  # every new name hashes to the first free slot
    styles = plotting.family_styles(["zeta", "alpha"])
    assert styles["alpha"] == plotting._slot_style(len(plotting.KNOWN_FAMILIES))
    assert styles["zeta"] == plotting._slot_style(len(plotting.KNOWN_FAMILIES) + 1)
    assert set(styles.values()).isdisjoint(plotting.family_styles(plotting.KNOWN_FAMILIES).values())
    assert plotting.family_styles(["Llama-2", "zeta"])["Llama-2"] == plotting.family_styles(["Llama-2"])["Llama-2"]


def test_all_slots_are_distinct_pairs():
    pairs = {plotting._slot_style(i) for i in range(plotting.N_SLOTS)}
    assert len(pairs) == plotting.N_SLOTS


# ---------------------------------------------------------------------------------------------- figures
def test_scree_draws_the_variance_table(results, no_fitting):
    caps = results["caps"]
    fig = plotting.plot_scree(caps, k=2)
    _labelled(fig)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, caps.explained_variance_ratio.to_numpy() * 100, rtol=1e-12, atol=0)
    cumulative = ax.lines[0].get_ydata()
    np.testing.assert_allclose(cumulative, caps.cumulative_ratio.to_numpy() * 100, rtol=1e-12, atol=0)
    assert any("K = 2" in t.get_text() for t in ax.texts)
    assert "95% bootstrap CI" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_k_selection_and_loadings(results, no_fitting):
    fig = plotting.plot_k_selection(results["selection"])
    _labelled(fig)
    rmse = np.asarray(fig.axes[0].lines[0].get_ydata(), float)
    np.testing.assert_allclose(rmse, results["selection"].cv["rmse"], rtol=1e-12, atol=0)
    caps = results["caps"]
    fig = plotting.plot_loadings(caps)
    _labelled(fig)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == [f"{c}\n{caps.labels[c]}" for c in caps.components]
    first = caps.loadings_long().iloc[0]
    assert any(t.get_text().startswith(f"{first['loading']:.2f}\n[{first['lower']:.2f}") for t in fig.axes[0].texts)


def test_scaling_curve_reads_curve_and_roles(results, no_fitting):
    fit, eq = results["fit"], results["equivalent"]
    fig = plotting.plot_scaling_curve(fit, eq, cutoff=8.4e22)
    _labelled(fig)
    ax = fig.axes[0]
    assert ax.get_xlabel() == f"f-equivalent FLOPs (log10, {eq.reference_family})"
    curve = eq.curve()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), curve["mean"], rtol=1e-12, atol=0)
    cutoff = [line for line in ax.lines if line.get_linestyle() == "--"]
    np.testing.assert_allclose(cutoff[0].get_xdata(), [np.log10(8.4e22)] * 2, rtol=1e-12, atol=0)
    # every model with a prediction and an equivalent is drawn once; held-out ones hollow
    scatters = [c for c in ax.collections if c.get_offsets().shape[0] and c.get_label().startswith("_")]
    points = np.vstack([c.get_offsets() for c in scatters])
    n_models = len(fit.predictions(include_train=True).index.intersection(eq.per_model().index))
    assert len(points) == n_models
    hollow = sum(len(c.get_offsets()) for c in ax.collections
                 if len(c.get_facecolors()) and np.allclose(c.get_facecolors()[0][:3], 1.0))
    assert hollow == fit.split.n_test
    labels = _legend_labels(fig)
    assert "held-out models (hollow)" in labels and "95% prediction band" in labels
    families = set(fit.predictions(include_train=True)["family"])
    assert families <= set(labels)


def test_equivalent_backtest_and_weights(results, no_fitting):
    eq, bt, fit = results["equivalent"], results["backtest"], results["fit"]
    fig = plotting.plot_equivalent_flops(eq)
    _labelled(fig)
    assert fig.axes[0].get_xlabel() == "log10 training FLOPs"
    fig = plotting.plot_backtest(bt)
    _labelled(fig)
    xs = sorted(float(c.get_offsets()[0][0]) for c in fig.axes[0].collections)
    np.testing.assert_allclose(xs, sorted(bt.table["mse"]), rtol=1e-12, atol=0)
    weights = fit.law.benchmark_weights(fit.capabilities.loadings)
    fig = plotting.plot_benchmark_weights({"a": weights, "b": weights * 2}, level=0.95)
    _labelled(fig)
    widths = [p.get_width() for p in fig.axes[0].patches]
    np.testing.assert_allclose(widths, np.concatenate([weights["weight"], 2 * weights["weight"]]), rtol=1e-12, atol=0)
    assert _legend_labels(fig) == ["a", "b"]
    long = pd.concat([weights.rename_axis("benchmark").reset_index().assign(law="only")])
    _labelled(plotting.plot_benchmark_weights(long))


def test_missingness_figure(results):
    missing = results["panel"].missingness()
    fig = plotting.plot_missingness(missing)
    _labelled(fig)
    np.testing.assert_allclose([p.get_width() for p in fig.axes[0].patches], missing["share_missing"] * 100,
                               rtol=1e-12, atol=0)


def test_many_families_use_two_legend_columns(results):
    fig = plotting.plot_equivalent_flops(results["equivalent"])
    assert len(fig.legends) == 1 and fig.legends[0]._ncols == 2  # 20 families + the diagonal


def test_bad_alpha_is_a_config_error(results):
    from osltools.exceptions import ConfigError

    with pytest.raises(ConfigError, match="alpha=1.5"):
        plotting.plot_scree(results["caps"], alpha=1.5)


# ---------------------------------------------------------------------------------------------- log-linearity
@pytest.fixture(scope="module")
def family_scaling(results):
    from osltools.loglinear import FamilyScaling

    return FamilyScaling.from_capabilities(results["caps"], components=["PC1", "PC2"], reference="Alfa").fit()


def test_capability_vs_compute_draws_each_family_line(family_scaling, results, no_fitting):
    res = family_scaling
    fig = plotting.plot_capability_vs_compute(res, component="PC2")
    _labelled(fig)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "log10 training FLOPs" and ax.get_ylabel().startswith("PC2")
    assert len(ax.lines) == len(res.fitted_families)
    for line, family in zip(ax.lines, res.fitted_families):
        expected = res.get_prediction(family=family, log10_flops=line.get_xdata(), component="PC2").summary_frame()
        np.testing.assert_allclose(line.get_ydata(), expected["mean"], rtol=1e-12, atol=0)
    assert set(res.data["family"]) <= set(_legend_labels(fig))
    frame = results["caps"].frame()
    fig = plotting.plot_capability_vs_compute(res, others=frame)
    small = frame.dropna(subset=["log10_flops", "PC1"]).query("family not in @res.fitted_families")
    assert len(small) and all(f"{f} (no line)" in _legend_labels(fig) for f in set(small["family"]))
    assert len(fig.axes[0].lines) == len(res.fitted_families)  # no line for them
    points = sum(len(c.get_offsets()) for c in fig.axes[0].collections if isinstance(c, PathCollection))
    assert points == len(res.data) + len(small)


def test_efficiency_ranking_reads_the_table(family_scaling, no_fitting):
    res = family_scaling
    fig = plotting.plot_efficiency(res)
    _labelled(fig)
    table = res.efficiency("PC1")
    levels = [float(c.get_offsets()[0][0]) for c in fig.axes[0].collections]
    np.testing.assert_allclose(levels, table["level"], rtol=1e-12, atol=0)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [f"{r}. {f}" for f, r in table["rank"].items()]


# ---------------------------------------------------------------------------------------------- interventions
@pytest.fixture(scope="module")
def gaps(results, sim):
    from osltools.interventions import compare_interventions

    return compare_interventions(results["panel"], base="base_task", interventions={"X": "intervention_task"},
                                 reference_family=sim.truth.reference_family, law=LawOptions(bounds="floor"),
                                 n_boot=10, seed=0)


def test_gap_curves_draw_the_bands(gaps, no_fitting):
    fig = plotting.plot_gap_curves(gaps)
    _labelled(fig)
    band = gaps.band("X - base")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), band["estimate"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), band["simultaneous_lower"], rtol=1e-12, atol=0)
    assert ax.get_xlabel() == f"f-equivalent FLOPs (log10, {gaps.reference_family})"
    assert "X - base" in _legend_labels(fig)
    fig = plotting.plot_gap_curves(gaps, names=list(gaps.metrics))
    _labelled(fig)
    assert fig.axes[0].get_ylabel() == "fitted metric" and set(_legend_labels(fig)) >= set(gaps.metrics)


def test_weights_side_by_side_from_the_gap_results(gaps, no_fitting):
    weights = gaps.benchmark_weights()
    frames = {label: weights.xs(label, level="name") for label in gaps.metrics}
    fig = plotting.plot_benchmark_weights(frames, level=0.95)
    _labelled(fig)
    widths = [p.get_width() for p in fig.axes[0].patches]
    np.testing.assert_allclose(widths, np.concatenate([f["weight"] for f in frames.values()]), rtol=1e-12, atol=0)
