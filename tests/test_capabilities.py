import numpy as np
import pandas as pd
import pytest

from osltools.capabilities import CapabilityPCA, label_component
from osltools.datasets import simulate_panel
from osltools.exceptions import ConfigError


def numpy_pca(x):
    centred = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    signs = np.where(vt.sum(axis=1) < 0, -1.0, 1.0)
    return centred @ (vt * signs[:, None]).T, (vt * signs[:, None]).T, s


@pytest.mark.parametrize("model_set", [None, "main"])
def test_agrees_with_numpy_svd(model_set, base_panel, main_panel):
    panel = base_panel if model_set is None else main_panel
    caps = CapabilityPCA(n_components=3).fit(panel)
    scores, loadings, s = numpy_pca(caps.imputed.to_numpy())
    np.testing.assert_allclose(caps.scores.to_numpy(), scores[:, :3], atol=1e-10)
    np.testing.assert_allclose(caps.loadings.to_numpy(), loadings[:, :3], atol=1e-10)
    np.testing.assert_allclose(caps.explained_variance_ratio.to_numpy(), s**2 / (s**2).sum(), atol=1e-12)
    np.testing.assert_allclose(caps.explained_variance.to_numpy(), s**2 / (panel.n_models - 1), rtol=1e-10)


def test_paper_figures_on_main_set(main_panel):
    caps = CapabilityPCA(n_components=3).fit(main_panel)
    ratio = caps.explained_variance_ratio
    assert ratio["PC1"] == pytest.approx(0.80, abs=0.02)
    assert caps.cumulative_ratio["PC3"] == pytest.approx(0.97, abs=0.01)
    assert list(caps.labels) == ["general", "commonsense vs math/code", "code vs math/knowledge"]


def test_sign_convention_and_flip_invariance():
    panel, _ = simulate_panel(seed=2)
    caps = CapabilityPCA().fit(panel)
    assert (caps.loadings.sum() > 0).all()
    # negating every score (1 - x) flips the raw components; the convention flips them back
    flipped = CapabilityPCA().fit(panel.select(benchmarks=list(panel.benchmarks)))
    np.testing.assert_allclose(flipped.scores.to_numpy(), caps.scores.to_numpy(), atol=1e-12)
    # the most capable simulated models have the highest PC1
    top = caps.scores["PC1"].idxmax()
    assert panel.meta.at[top, "log10_flops"] >= np.nanquantile(panel.meta["log10_flops"], 0.5)


def test_row_order_invariance():
    panel, _ = simulate_panel(seed=8)
    caps = CapabilityPCA().fit(panel)
    order = list(np.random.default_rng(1).permutation(panel.models))
    shuffled = CapabilityPCA().fit(panel.select(order))
    pd.testing.assert_frame_equal(shuffled.scores.loc[panel.models], caps.scores, atol=1e-9, rtol=0)
    pd.testing.assert_frame_equal(shuffled.loadings, caps.loadings, atol=1e-9, rtol=0)


def test_transform_new_models_and_consistency(main_panel):
    train = main_panel.select(main_panel.models[:60])
    test = main_panel.select(main_panel.models[60:], benchmarks=list(main_panel.benchmarks))
    caps = CapabilityPCA().fit(train)
    new = caps.transform(test)
    completed = caps.imputation.transform(test).to_numpy()
    expected = (completed - caps.centre.to_numpy()) @ caps.loadings.to_numpy()
    np.testing.assert_allclose(new.to_numpy(), expected, atol=1e-12)
    # projecting the training models themselves reproduces their scores when they have no missing cells
    complete = [m for m in train.models if train.scores.loc[m].notna().all()]
    np.testing.assert_allclose(caps.transform(train.select(complete)).to_numpy(), caps.scores.loc[complete].to_numpy(),
                               atol=1e-10)
    with pytest.raises(ConfigError, match="differ from the fitted ones"):
        caps.transform(test.select(benchmarks=["MMLU", "ARC-C"]))


def test_standardized_option(main_panel):
    caps = CapabilityPCA(standardize=True).fit(main_panel)
    x = caps.imputed.to_numpy()
    z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    _, loadings, s = numpy_pca(z)
    np.testing.assert_allclose(caps.loadings.to_numpy(), loadings[:, :3], atol=1e-10)
    assert "standardized" in str(caps)


def test_frame_and_tidy(main_panel):
    caps = CapabilityPCA().fit(main_panel)
    frame = caps.frame()
    assert {"PC1", "PC2", "PC3", "log10_flops", "family", "MMLU"} <= set(frame.columns)
    tidy = caps.tidy()
    assert set(tidy["term"]) == {"explained_variance", "explained_variance_ratio", "cumulative_ratio", "loading"}
    assert tidy.query("term == 'loading'").shape[0] == 3 * 8
    assert repr(caps).startswith("<CapabilityResults: 3 PCs of 8 benchmarks on 77 models (21 families)")


def test_labels_derivation_and_override():
    general = pd.Series({"MMLU": 0.4, "ARC-C": 0.4, "HellaSwag": 0.4, "GSM8K": 0.5, "HumanEval": 0.5})
    assert label_component(general / np.linalg.norm(general)) == "general"
    contrast = pd.Series({"HellaSwag": 0.7, "Winograd": 0.3, "GSM8K": -0.5, "HumanEval": -0.4})
    assert label_component(contrast / np.linalg.norm(contrast)) == "commonsense vs math/code"
    assert label_component(pd.Series({"X1": 0.9, "X2": 0.1, "X3": 0.1})) == "X1"
    panel, _ = simulate_panel(seed=0)
    caps = CapabilityPCA(labels={"PC2": "reasoning"}).fit(panel)
    assert caps.labels["PC2"] == "reasoning"
    assert caps.relabel({"PC3": "programming"}).labels["PC3"] == "programming"
    assert caps.labels["PC3"] != "programming"
    with pytest.raises(ConfigError, match="unknown components"):
        CapabilityPCA(labels={"PC9": "x"}).fit(panel)


def test_bad_input():
    panel, _ = simulate_panel(seed=0)
    with pytest.raises(ConfigError, match="n_components=9"):
        CapabilityPCA(n_components=9).fit(panel)
    with pytest.raises(ConfigError, match="n_components=0"):
        CapabilityPCA(n_components=0).fit(panel)
    with pytest.raises(ConfigError, match="expects a Panel"):
        CapabilityPCA().fit(panel.scores)
    with pytest.raises(ConfigError, match="too few"):
        CapabilityPCA(n_components=3).fit(panel.select(panel.models[:3]))


def test_bootstrap_intervals_and_alignment(main_panel):
    caps = CapabilityPCA().fit(main_panel)
    with pytest.raises(ConfigError, match="no bootstrap yet"):
        caps.bse
    boot = caps.bootstrap(n_boot=60, seed=3)
    assert caps.replicates is None and boot.replicates.n_requested == 60
    ci = boot.conf_int()
    assert ci.loc["PC1", "lower"] < 0.80 < ci.loc["PC1", "upper"]
    # replicates were sign-aligned: no PC1 loading interval straddles zero
    long = boot.loadings_long()
    assert (long.query("component == 'PC1'")["lower"] > 0).all()
    # the bootstrap SE equals the sd of the replicate table
    table = boot.replicates.table
    expected = table[("explained_variance_ratio", "PC2", "")].std(ddof=1)
    assert boot.bse["PC2"] == pytest.approx(expected, rel=1e-12)
    # same seed, same intervals, whatever n_jobs
    again = caps.bootstrap(n_boot=60, seed=3, n_jobs=2)
    pd.testing.assert_frame_equal(again.conf_int(), ci)
    assert {"se", "lower", "upper"} <= set(boot.tidy().columns)
    assert "Loadings with 95% bootstrap intervals" in str(boot)


def test_bootstrap_replicate_refits_the_whole_pipeline(main_panel):
    from osltools.capabilities import _PCAReplicate

    caps = CapabilityPCA().fit(main_panel)
    positions = np.random.default_rng(0).integers(0, main_panel.n_models, main_panel.n_models)
    resampled = main_panel.resample(positions)
    values = _PCAReplicate(caps.model, caps.loadings)(resampled, np.random.default_rng(0))
    direct = CapabilityPCA().fit(resampled)
    assert values[("explained_variance_ratio", "PC1", "")] == pytest.approx(direct.explained_variance_ratio["PC1"])
    signs = np.sign((direct.loadings * caps.loadings).sum())
    assert values[("loading", "PC2", "GSM8K")] == pytest.approx(direct.loadings.at["GSM8K", "PC2"] * signs["PC2"])
