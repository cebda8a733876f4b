import numpy as np
import pandas as pd
import pytest

from osltools.capabilities import PCAFit
from osltools.datasets import simulate_panel
from osltools.dimension import _loo_squared_errors, cv_reconstruction, parallel_analysis, select_n_components
from osltools.exceptions import ConfigError


@pytest.mark.parametrize("k", [2, 3, 4])
def test_recovers_true_k_on_simulated_panels(k):
    """Paper-sized panels (100 models, 8 benchmarks), loadings spread over benchmarks: >= 9 of 10 seeds."""
    hits = [
        select_n_components(simulate_panel(seed=s, loadings="random", n_components=k).panel, seed=s,
                            n_permutations=50).recommended == k
        for s in range(10)
    ]
    assert sum(hits) >= (9 if k == 3 else 8), hits


def test_loo_residual_equals_refit_without_the_cell():
    rng = np.random.default_rng(0)
    vt = np.linalg.qr(rng.normal(size=(6, 6)))[0].T
    z = rng.normal(size=(3, 6))
    z[1, 2] = np.nan
    got = _loo_squared_errors(z, vt, 2)
    for i in range(3):
        for j in np.flatnonzero(~np.isnan(z[i])):
            others = ~np.isnan(z[i])
            others[j] = False
            coef = np.linalg.lstsq(vt[:2, others].T, z[i, others], rcond=None)[0]
            assert got[i, j] == pytest.approx((z[i, j] - vt[:2, j] @ coef) ** 2, rel=1e-9)
    assert np.isnan(got[1, 2])


def test_parallel_analysis_null_and_signal():
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(200, 6))
    assert not parallel_analysis(noise, standardize=True, seed=0)["exceeds"].iloc[0]
    signal = noise + 3 * np.outer(rng.normal(size=200), np.ones(6))
    table = parallel_analysis(signal, standardize=True, seed=0)
    assert table["exceeds"].iloc[0] and not table["exceeds"].iloc[1]
    assert table.loc["PC1", "eigenvalue"] == pytest.approx(PCAFit.of(signal, standardize=True).explained_variance(200)[0])


def test_cv_table_and_summary(main_panel):
    selection = select_n_components(main_panel, seed=0, n_permutations=50)
    assert list(selection.cv.index) == list(range(6))
    assert selection.cv.at[0, "rmse"] > selection.cv.at[1, "rmse"]
    assert selection.recommended == selection.k_cv
    text = str(selection)
    assert "Parallel analysis" in text and "Recommended K" in text
    again = select_n_components(main_panel, seed=0, n_permutations=50)
    pd.testing.assert_frame_equal(selection.cv, again.cv)
    assert set(selection.tidy()["evidence"]) == {"parallel_analysis", "cv_reconstruction"}


def test_single_benchmark_component_is_flagged(main_panel):
    selection = select_n_components(main_panel, seed=0, n_permutations=50)
    if selection.recommended == 2:
        assert any("HumanEval alone" in line for line in selection.evidence())


def test_bad_arguments(main_panel):
    with pytest.raises(ConfigError, match="k_max=8"):
        select_n_components(main_panel, k_max=8)
    with pytest.raises(ConfigError, match="n_permutations"):
        parallel_analysis(np.zeros((5, 3)), standardize=False, n_permutations=5)
    with pytest.raises(ConfigError, match="n_folds"):
        cv_reconstruction(main_panel, k_max=2, n_folds=1)
