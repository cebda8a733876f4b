import numpy as np
import pandas as pd
import pytest

from osltools.datasets import simulate_panel
from osltools.exceptions import ConfigError


def test_same_seed_identical_panel():
    a, ta = simulate_panel(seed=5)
    b, tb = simulate_panel(seed=5)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    pd.testing.assert_frame_equal(a.meta, b.meta)
    pd.testing.assert_frame_equal(a.targets, b.targets)
    pd.testing.assert_frame_equal(ta.capabilities, tb.capabilities)
    c, _ = simulate_panel(seed=6)
    assert not np.allclose(a.scores.fillna(0).to_numpy(), c.scores.reindex_like(a.scores).fillna(0).to_numpy())


def test_generator_seed_and_no_global_state():
    state = np.random.get_state()[1].copy()
    simulate_panel(seed=np.random.default_rng(3))
    assert np.array_equal(np.random.get_state()[1], state)


def test_default_shape_resembles_paper(sim):
    panel, truth = sim
    assert panel.n_models == 100 and len(panel.families) == 20 and panel.n_benchmarks == 8
    assert truth.n_components == 3
    assert (panel.meta["family"].value_counts() >= 2).all()
    assert (panel.meta.loc[panel.meta["family"] == truth.reference_family].shape[0]) >= 4
    assert 0.01 < panel.scores.isna().to_numpy().mean() < 0.1
    lo, hi = panel.meta["log10_flops"].min(), panel.meta["log10_flops"].max()
    assert 19.5 < lo < 21.5 and 23.5 < hi < 25.5
    assert set(panel.target_names) == {"emergent_task", "base_task", "intervention_task"}


def test_scores_in_range_with_chance_floor(sim):
    panel, truth = sim
    values = panel.scores
    assert ((values >= 0) & (values <= 1) | values.isna()).all().all()
    floors = values.min()
    assert (floors >= truth.chance - 1e-12).all()


def test_loadings_orthonormal_and_oriented(sim):
    gamma = sim.truth.loadings.to_numpy()
    np.testing.assert_allclose(gamma.T @ gamma, np.eye(3), atol=1e-12)
    assert (gamma.sum(axis=0) > 0).all()


def test_three_dominant_components():
    """PCA of a complete, unclipped-ish simulated panel shows K=3 dominant components."""
    for k in (2, 3, 4):
        panel, _ = simulate_panel(seed=2, n_models=300, n_families=25, n_benchmarks=12, n_components=k,
                                  missing_share=0.0)
        x = panel.scores.to_numpy()
        s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False) ** 2
        share = s / s.sum()
        assert share[:k].sum() > 0.9, share
        assert share[k] < 0.5 * share[k - 1], share


def test_capabilities_follow_eq4(sim):
    """Latent capabilities are log-linear in compute per family, with the stated slopes."""
    panel, truth = sim
    meta = panel.meta.dropna(subset=["log10_flops"])
    resid = np.vstack([
        truth.capabilities.loc[rows.index].to_numpy() - truth.family_capabilities(rows["log10_flops"], family)
        for family, rows in meta.groupby("family")
    ])
    np.testing.assert_allclose(resid.std(axis=0), truth.capability_noise_sd.to_numpy(), rtol=0.35)
    assert np.abs(resid.mean(axis=0)).max() < 0.02


def test_targets_match_truth(sim):
    panel, truth = sim
    for name, t in truth.targets.items():
        expected = t.expected(truth.capabilities.to_numpy())
        observed = panel.targets[name].to_numpy()
        ok = ~np.isnan(observed)
        assert np.abs(observed[ok] - expected[ok]).max() < 5 * np.sqrt(0.25 / t.n_items) + 1e-9


def test_intervention_gain_grows_with_capability(sim):
    panel, truth = sim
    cap = truth.capabilities.to_numpy()
    gap = truth.targets["intervention_task"].expected(cap) - truth.targets["base_task"].expected(cap)
    general = cap[:, 0]
    middle = (general > np.quantile(general, 0.1)) & (general < np.quantile(general, 0.75))
    rank = pd.Series(gap[middle]).corr(pd.Series(general[middle]), method="spearman")
    assert rank > 0.8
    assert gap[general < np.quantile(general, 0.1)].max() < gap[middle].max()


def test_bad_arguments():
    with pytest.raises(ConfigError, match="too small"):
        simulate_panel(n_models=10, n_families=20)
    with pytest.raises(ConfigError, match="n_components"):
        simulate_panel(n_components=8)
    with pytest.raises(ConfigError, match="missing_share"):
        simulate_panel(missing_share=1.5)
    with pytest.raises(ConfigError, match="unknown simulated target"):
        simulate_panel(seed=1).truth.target_curve("nope", [22.0])


def test_defaults_are_the_committed_calibration():
    """SimulationConfig's defaults are the numbers analyses/calibrate_simulator.py wrote."""
    import dataclasses
    import json
    from pathlib import Path

    from osltools.simulate import SimulationConfig

    committed = json.loads((Path(__file__).parents[1] / "analyses" / "simulator_calibration.json").read_text())
    defaults = dataclasses.asdict(SimulationConfig())
    assert set(committed) == set(defaults)
    for name, value in committed.items():
        np.testing.assert_allclose(np.asarray(defaults[name], float), np.asarray(value, float), atol=1e-12, err_msg=name)


def test_calibration_script_reproduces_committed_numbers(public_data_dir):
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).parents[1] / "analyses" / "calibrate_simulator.py"
    spec = importlib.util.spec_from_file_location("calibrate_simulator", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads(script.with_name("simulator_calibration.json").read_text())
    assert module.calibrate() == committed
