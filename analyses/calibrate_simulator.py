"""Calibrate the defaults of ``osltools.simulate.SimulationConfig`` on the paper's public data.

Run:  python analyses/calibrate_simulator.py
Writes analyses/simulator_calibration.json (a few dozen numbers, rounded to 3
decimals). ``SimulationConfig``'s defaults are these numbers; the test suite
checks that the two agree.

What is estimated where:
- capability structure (loadings, benchmark means, per-family slopes and
  offsets of PC-1..3 on log10 FLOPs, within-family residual sd, noise beyond 3
  components) on the paper's 77-model main set, rank-1 imputation, raw PCA;
- missingness per benchmark, metadata coverage and tokens per parameter on all
  148 base models.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from osltools.capabilities import CapabilityPCA
from osltools.datasets import load_panel
from osltools.exceptions import OSLWarning

OUT = Path(__file__).with_name("simulator_calibration.json")
K = 3


def per_family_lines(frame, components):
    """OLS of each PC on log10 FLOPs per family (numpy): slope, value at x0 and residuals."""
    x0 = float(frame["log10_flops"].median())
    slopes, offsets, residuals = [], [], []
    for _, rows in frame.groupby("family"):
        if len(rows) < 2:
            continue
        x = rows["log10_flops"].to_numpy() - x0
        design = np.column_stack([np.ones_like(x), x])
        coef, *_ = np.linalg.lstsq(design, rows[components].to_numpy(), rcond=None)
        offsets.append(coef[0])
        slopes.append(coef[1])
        if len(rows) >= 3:
            residuals.append(rows[components].to_numpy() - design @ coef)
    resid = np.vstack(residuals)
    dof = len(resid) - 2 * len(residuals)  # two parameters per family with residuals
    return x0, np.array(slopes), np.array(offsets), np.sqrt((resid**2).sum(axis=0) / dof)


def spans(frame):
    ranges = frame.groupby("family")["log10_flops"].agg(["min", "max", "size"])
    ranges = ranges[ranges["size"] >= 2]
    return float((ranges["max"] - ranges["min"]).mean())


def calibrate() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        full = load_panel("obsscaling-base")
        main = load_panel("obsscaling-base", model_set="main")
    caps = CapabilityPCA(n_components=K).fit(main)
    components = caps.components
    frame = caps.frame().dropna(subset=["log10_flops"])
    x0, slopes, offsets, resid_sd = per_family_lines(frame, components)
    trailing = caps.explained_variance.iloc[K:].sum()
    meta = full.meta
    tpp = np.log10(meta["tokens_t"] * 1e3 / meta["params_b"]).dropna()
    tpp = tpp[tpp < 5]  # leave out the flagged unit slip (cerebras/btlm, 2e5 tokens per parameter)
    values = {
        "log10_flops_range": [frame["log10_flops"].min(), frame["log10_flops"].max()],
        "family_span_mean": spans(frame),
        "x0": x0,
        "slope_mean": slopes.mean(axis=0).tolist(),
        "slope_sd": slopes.std(axis=0, ddof=1).tolist(),
        "offset_mean": [0.0] * K,  # capabilities are centred; family offsets are spread around zero
        "offset_sd": offsets.std(axis=0, ddof=1).tolist(),
        "capability_noise_sd": resid_sd.tolist(),
        "benchmark_means": caps.centre.tolist(),
        "loadings": caps.loadings.to_numpy().tolist(),
        "benchmark_noise_sd": float(np.sqrt(trailing / main.n_benchmarks)),
        "missing_share": full.missingness()["share_missing"].tolist(),
        "log10_tokens_per_param_mean": float(tpp.mean()),
        "log10_tokens_per_param_sd": float(tpp.std(ddof=1)),
        "missing_compute_share": float((meta["flops_source"] == "missing").mean()),
    }
    return json.loads(json.dumps(values), parse_float=lambda s: round(float(s), 3))


def main() -> None:
    values = calibrate()
    OUT.write_text(json.dumps(values, indent=1) + "\n")
    print(f"wrote {OUT}")
    print(json.dumps(values))


if __name__ == "__main__":
    main()
