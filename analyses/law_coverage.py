"""Coverage of the sigmoid law's 95% intervals on simulated targets with known truth.

For each scenario and seed: draw capabilities, a target from a known sigmoid
law with binomial or Gaussian noise, fit :class:`osltools.law.ScalingLaw`, and
check whether the intervals cover the truth:

* each parameter's ``conf_int`` (Jacobian "nonrobust" and "sandwich" covariance);
* the mean prediction's interval at three new points (the centre of the
  capabilities, the 90th percentile of the true linear predictor, and an
  extrapolation half a standard deviation of it beyond the data's maximum);
* the prediction interval for a fresh noisy observation at the same points.

Run ``python analyses/law_coverage.py [--seeds 500]``; writes
``reports/law_coverage.md`` and ``reports/law_coverage.csv``. The test suite
runs :func:`coverage_table` with a few seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from osltools.exceptions import FitError
from osltools.law import ScalingLaw
from osltools.simulate import simulate_panel

ROOT = Path(__file__).resolve().parents[1]
COV_TYPES = ("nonrobust", "sandwich")


@dataclass(frozen=True)
class Scenario:
    """A known law and its noise: Gaussian (``noise_sd``) or binomial (``n_items``) observations."""

    name: str
    beta: tuple[float, ...] = (1.5, -0.8, 0.5)
    alpha: float = -0.3
    floor: float = 0.0
    ceiling: float = 1.0
    n_models: int = 80
    noise_sd: float | None = None
    n_items: int | None = None
    law: dict = field(default_factory=dict)  # options of ScalingLaw (bounds, loss, ...)
    panel: bool = False  # capabilities from simulate_panel instead of independent Gaussians


SCENARIOS = (
    Scenario("gaussian, fixed floor/ceiling", noise_sd=0.03),
    Scenario("binomial(500), fixed floor/ceiling", n_items=500),
    Scenario("binomial(500), ceiling in [0.8, 1]", ceiling=0.9, n_items=500, law={"bounds": "ceiling"}),
    Scenario("binomial(250), floor in [0, 0.2]", floor=0.1, n_items=250, law={"bounds": "floor"}),
    Scenario("binomial(500), floor in [0, 0.2], true floor 0 (on the bound)", n_items=500, law={"bounds": "floor"}),
    Scenario("gaussian, huber loss", noise_sd=0.03, law={"loss": "huber", "f_scale": 0.05}),
    Scenario("simulated panel (K=3), binomial(500)", beta=(6.0, -3.0, 0.0), alpha=-1.0, n_items=500, panel=True),
    Scenario("gaussian, fixed, n=30", noise_sd=0.03, n_models=30),
)


def _capabilities(scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    if scenario.panel:
        panel, truth = simulate_panel(seed=rng, n_models=scenario.n_models, n_families=15)
        return truth.capabilities.to_numpy()
    return rng.normal(size=(scenario.n_models, len(scenario.beta)))


def _observe(scenario: Scenario, mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if scenario.n_items:
        return rng.binomial(scenario.n_items, mean) / scenario.n_items
    return np.clip(mean + rng.normal(0, scenario.noise_sd, size=mean.shape), 0, 1)


def one_seed(scenario: Scenario, rng: np.random.Generator) -> list[dict]:
    """Coverage indicators of one simulated fit (one row per quantity and covariance type)."""
    S = _capabilities(scenario, rng)
    names = [f"PC{j + 1}" for j in range(S.shape[1])]
    beta = np.array(scenario.beta)

    def truth(x: np.ndarray) -> np.ndarray:
        return scenario.floor + (scenario.ceiling - scenario.floor) * expit(x @ beta + scenario.alpha)

    data = pd.DataFrame(S, columns=names)
    data["y"] = _observe(scenario, truth(S), rng)
    z = S @ beta
    # new points along the direction of beta: centre, 90th percentile, extrapolation beyond the maximum
    direction = beta / (beta @ beta)
    targets = {"centre": 0.0, "p90": np.quantile(z, 0.9), "extrapolation": z.max() + 0.5 * z.std()}
    new = pd.DataFrame({name: [v * direction[j] for v in targets.values()] for j, name in enumerate(names)})
    new_mean = truth(new[names].to_numpy())
    new_obs = _observe(scenario, new_mean, rng)
    try:
        fit = ScalingLaw.from_formula("y ~ " + " + ".join(names), data, **scenario.law).fit()
    except FitError:
        return [{"scenario": scenario.name, "cov_type": c, "quantity": "fit failed", "covered": np.nan} for c in COV_TYPES]
    true_params = dict(zip(["Intercept", *names], [scenario.alpha, *beta]))
    true_params.update(floor=scenario.floor, ceiling=scenario.ceiling)
    rows = []
    for cov_type in COV_TYPES:
        res = fit.with_cov_type(cov_type)
        ci = res.conf_int(0.05)
        for term in res.params.index:
            if res.at_bound[term]:
                rows.append({"scenario": scenario.name, "cov_type": cov_type, "quantity": term, "covered": np.nan,
                             "width": np.nan, "at_bound": True})
                continue
            lo, hi = ci.loc[term]
            rows.append({"scenario": scenario.name, "cov_type": cov_type, "quantity": term,
                         "covered": float(lo <= true_params[term] <= hi), "width": hi - lo, "at_bound": False})
        frame = res.get_prediction(new).summary_frame(alpha=0.05)
        for j, where in enumerate(targets):
            row = frame.iloc[j]
            rows.append({"scenario": scenario.name, "cov_type": cov_type, "quantity": f"mean@{where}",
                         "covered": float(row.mean_ci_lower <= new_mean[j] <= row.mean_ci_upper),
                         "width": row.mean_ci_upper - row.mean_ci_lower, "at_bound": False})
            rows.append({"scenario": scenario.name, "cov_type": cov_type, "quantity": f"obs@{where}",
                         "covered": float(row.obs_ci_lower <= new_obs[j] <= row.obs_ci_upper),
                         "width": row.obs_ci_upper - row.obs_ci_lower, "at_bound": False})
    return rows


def coverage_table(n_seeds: int, *, seed: int = 2024, scenarios: tuple[Scenario, ...] = SCENARIOS) -> pd.DataFrame:
    """Coverage of 95% intervals per scenario, covariance type and quantity, over ``n_seeds`` simulations."""
    rows = []
    for i, scenario in enumerate(scenarios):
        for child in np.random.SeedSequence([seed, i]).spawn(n_seeds):
            rows += one_seed(scenario, np.random.default_rng(child))
    raw = pd.DataFrame(rows)
    grouped = raw.groupby(["scenario", "cov_type", "quantity"], sort=False)
    table = grouped.agg(
        coverage=("covered", "mean"), n=("covered", "count"), mean_width=("width", "mean"),
    ).reset_index()
    table["mc_se"] = np.sqrt(table["coverage"] * (1 - table["coverage"]) / table["n"])
    table["at_bound_share"] = grouped["at_bound"].apply(lambda s: float(s.fillna(False).astype(bool).mean())).to_numpy()
    failed = raw[raw["quantity"] == "fit failed"].groupby("scenario").size()
    table.attrs["failed_fits"] = (failed / len(COV_TYPES)).astype(int).to_dict()
    return table


def write_report(table: pd.DataFrame, n_seeds: int, seconds: float) -> None:
    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    table.to_csv(reports / "law_coverage.csv", index=False)
    kind = np.select([table["quantity"].str.startswith("mean@"), table["quantity"].str.startswith("obs@")],
                     ["mean prediction", "new observation"], "parameters")
    overview = table.assign(kind=kind).pivot_table(index=["scenario", "cov_type"], columns="kind", values="coverage",
                                                   aggfunc=["mean", "min"], sort=False)
    overview.columns = [f"{stat} ({what})" for stat, what in overview.columns]
    wide = table.pivot_table(index=["scenario", "quantity"], columns="cov_type", values="coverage", sort=False)
    lines = [
        "# Coverage of the sigmoid law's 95% intervals",
        "",
        f"`analyses/law_coverage.py`, {n_seeds} simulated data sets per scenario ({seconds:.0f} s). Nominal 0.95; "
        f"the Monte Carlo standard error of a coverage near 0.95 is about {np.sqrt(0.95 * 0.05 / n_seeds):.3f}.",
        "Capabilities PC1..PC3 ~ N(0, 1) (or the latent capabilities of `simulate_panel`), target from a known law "
        "with binomial or Gaussian noise; parameters ending on a bound are held fixed and left out of the count "
        "(`at_bound_share`). `mean@x`: interval for the expected target at a new point (the centre, the 90th "
        "percentile of the true linear predictor, half an SD beyond its maximum); `obs@x`: prediction interval for a new "
        "noisy observation there.",
        "",
        "## Overview: mean and lowest coverage per kind of interval",
        "",
        _markdown(overview.reset_index()),
        "",
        "## Coverage by covariance type",
        "",
        _markdown(wide.reset_index()),
        "",
        "## Full table",
        "",
        _markdown(table),
        "",
        f"Fits that raised FitError: {table.attrs.get('failed_fits') or 'none'}.",
        "",
    ]
    (reports / "law_coverage.md").write_text("\n".join(lines))


def _markdown(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    head = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "|" + "|".join(" --- " for _ in shown.columns) + "|"
    body = ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    table = coverage_table(args.seeds, seed=args.seed)
    write_report(table, args.seeds, time.perf_counter() - start)
    print((ROOT / "reports" / "law_coverage.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
