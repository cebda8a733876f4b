"""``osl loglinear``: wiring tested now with a stand-in PCA module; the real one once capabilities.py is merged."""

from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from osltools.cli import main
from osltools.datasets import simulate_panel

from .analysis_scripts import load_analysis


def run(*args):
    return CliRunner().invoke(main, list(args))


class _StandInCapabilities:
    """Plain SVD PCA of mean-imputed scores, the contract of CapabilityResults.frame() (PC columns joined)."""

    def __init__(self, panel, k):
        scores = panel.scores.fillna(panel.scores.mean())
        centred = scores - scores.mean()
        _, _, vt = np.linalg.svd(centred.to_numpy(), full_matrices=False)
        loadings = vt[:k].T * np.sign(vt[:k].sum(axis=1))
        self.scores = pd.DataFrame(centred.to_numpy() @ loadings, index=panel.models,
                                   columns=[f"PC{j + 1}" for j in range(k)])
        self.panel = panel

    def frame(self):
        return self.panel.frame().join(self.scores)


@pytest.fixture
def stand_in_pca(monkeypatch):
    module = types.ModuleType("osltools.capabilities")

    class CapabilityPCA:
        def __init__(self, n_components):
            self.n_components = n_components

        def fit(self, panel):
            return _StandInCapabilities(panel, self.n_components)

    module.CapabilityPCA = CapabilityPCA
    monkeypatch.setitem(sys.modules, "osltools.capabilities", module)


@pytest.fixture(scope="module")
def simulated_csv(tmp_path_factory):
    panel, _ = simulate_panel(seed=5)
    meta = panel.meta
    wide = pd.DataFrame({"Model": panel.models, "Model Family": meta["family"].to_numpy(),
                         "Model Size (B)": meta["params_b"].to_numpy(),
                         "Pretraining Data Size (T)": meta["tokens_t"].to_numpy()})
    wide = pd.concat([wide, panel.scores.reset_index(drop=True)], axis=1)
    path = tmp_path_factory.mktemp("loglinear") / "sim.csv"
    wide.to_csv(path, index=False)
    return path


def test_loglinear_command_prints_tables(stand_in_pca, simulated_csv):
    result = run("loglinear", str(simulated_csv), "--components", "PC1,PC2", "--k", "3", "--reference", "Alfa")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Per-family OLS: PC1 ~ log10_flops" in out and "Per-family OLS: PC2 ~ log10_flops" in out
    assert "homogeneity_p" in out and "Compute efficiency: expected PC1" in out
    assert "Reference family:               Alfa" in out
    assert "warning: " in out and "families left out of the log-linearity fits" in out


def test_loglinear_command_errors(stand_in_pca, simulated_csv):
    result = run("loglinear", str(simulated_csv), "--components", "PC1,PC4", "--k", "3")
    assert result.exit_code == 1
    assert "error: component 'PC4' does not exist in the data" in result.output and "Traceback" not in result.output
    result = run("loglinear", str(simulated_csv), "--min-models", "2")
    assert result.exit_code == 1 and "min_models=2 is not accepted" in result.output
    result = run("loglinear", str(simulated_csv), "--reference", "Nope")
    assert result.exit_code == 1 and "reference='Nope' is not a family of the data" in result.output


def test_loglinear_command_real_pca(public_data_dir):
    """Runs once osltools.capabilities is merged (skipped before)."""
    pytest.importorskip("osltools.capabilities")
    result = run("loglinear", "--dataset", "obsscaling-base", "--components", "PC1,PC2", "--reference", "Llama-2")
    assert result.exit_code == 0, result.output
    assert "Per-family OLS: PC1 ~ log10_flops" in result.output and "Llama-2" in result.output
    assert "Pooled models and tests" in result.output


def test_public_analysis_report_on_simulated_panel():
    script = load_analysis("loglinear_public")
    panel, _ = simulate_panel(seed=5)
    results, warned = script.analyse(_StandInCapabilities(panel, 3), components=["PC1", "PC2"], reference="Alfa")
    text = script.report(results, title="simulated", warned=warned)
    table = results.family_table("PC1")
    assert f"{len(table)} fitted families: median {table['r2'].median():.3f}" in text
    assert "### Pooled tests" in text and "offsets from Alfa" in text and "### Flagged models" in text
    assert "families left out of the log-linearity fits" in text  # the SmallFamilyWarning, listed


def test_public_analysis_script_runs(public_data_dir, tmp_path):
    """Runs once osltools.capabilities is merged (skipped before)."""
    pytest.importorskip("osltools.capabilities")
    load_analysis("loglinear_public").main(["--out", str(tmp_path)])
    text = (tmp_path / "loglinear_public.md").read_text()
    assert "model set 'all' (148 models)" in text and "model set 'main' (77 models)" in text
