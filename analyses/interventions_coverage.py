"""Coverage of the intervention gap bands on simulated panels with a known intervention effect.

Each seed draws a panel with :func:`osltools.datasets.simulate_panel` (its
targets ``base_task`` and ``intervention_task``: the intervention's link is
1.6 times steeper, so its gain grows with capability), runs
:func:`osltools.interventions.compare_interventions` with the simulated
reference family, and checks the bands against the true gap along the
reference family's expected capabilities, ``truth.gap_curve(...)`` on the
grid (the quantity the method estimates: the gap at reference-family-
equivalent compute):

* pointwise: is the truth inside the 95% percentile interval, per grid point
  (grids differ between seeds: they span each panel's data; point j is the
  j-th of 50) and averaged over the grid;
* simultaneous: is the whole true curve inside the sup-t band;
* growth: does the growth interval cover the true gap(x_high) - gap(x_low),
  and how often does the growth test reject (the true growth is positive);
* diagnostics: the estimated reference line's slope over the true slope of
  the base law's logit along the reference family (w_hat / w_true), and the
  share of the reference models' benchmark cells at their floor (chance
  level, or 0) or at 1.

Scenarios: the simulator's panels ("simulated benchmarks": scores floored at
chance and clipped to [0, 1], as real benchmarks are) and the same truth with
linear benchmarks (scores regenerated from the same capabilities and noise
level, then each benchmark affinely rescaled into [0.02, 0.98]: eq. (5) holds
exactly, no floor), each with the three ways the reference models enter the
replicates (``reference_resampling``: within, pooled, fixed).

Run ``python analyses/interventions_coverage.py [--seeds 100] [--n-boot 150] [--n-jobs 2]``;
writes ``reports/interventions_coverage.md``, ``reports/interventions_coverage.csv``
(per scenario and grid point) and the raw results (per scenario and seed,
``interventions_coverage_seeds.csv``; per grid point of every run,
``interventions_coverage_points.csv.gz``), from which ``--report-only``
rebuilds the report. The test suite runs :func:`coverage_runs` on one seed.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from osltools.data import Panel
from osltools.datasets import simulate_panel
from osltools.exceptions import OSLError, OSLWarning
from osltools.interventions import compare_interventions

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"
RUN_MINUTES = REPORTS / "interventions_coverage_minutes.txt"
BASE, INTERVENTION, LABEL = "base_task", "intervention_task", "intervention"
GAP = f"{LABEL} - base"


@dataclass(frozen=True)
class Scenario:
    name: str
    benchmarks: str  # "simulated" (simulate_panel's scores) or "linear" (no floor, see the module notes)
    reference_resampling: str


SCENARIOS = tuple(
    Scenario(f"{bench} benchmarks, reference {mode}", bench, mode)
    for bench in ("simulated", "linear") for mode in ("within", "pooled", "fixed")
)


def linear_benchmarks(panel: Panel, truth, seed: int) -> Panel:
    """The same models, metadata and targets with benchmarks linear in the true capabilities (no floor)."""
    rng = np.random.default_rng([seed, 1])
    benchmarks = list(panel.benchmarks)
    capabilities = truth.capabilities.loc[panel.models].to_numpy()
    raw = (truth.benchmark_means.loc[benchmarks].to_numpy() + capabilities @ truth.loadings.loc[benchmarks].to_numpy().T
           + rng.normal(0, truth.benchmark_noise_sd, size=(panel.n_models, len(benchmarks))))
    low, high = raw.min(axis=0), raw.max(axis=0)
    scores = pd.DataFrame(0.02 + 0.96 * (raw - low) / (high - low), index=panel.models, columns=benchmarks)
    return Panel(scores.where(panel.scores.notna()), panel.meta[["family", "params_b", "tokens_t"]],
                 targets=panel.targets, name=f"{panel.name}, linear benchmarks")


def floor_share(panel: Panel, truth) -> float:
    """Share of the reference family's observed benchmark cells at their floor (chance or 0) or at 1."""
    ref = panel.models[(panel.meta["family"] == truth.reference_family).to_numpy()]
    scores = panel.scores.loc[ref]
    at_floor = np.isclose(scores, truth.chance.loc[scores.columns].to_numpy()) | np.isclose(scores, 0.0) \
        | np.isclose(scores, 1.0)
    return float(at_floor[scores.notna().to_numpy()].mean())


def one_seed(scenario: Scenario, seed: int, n_boot: int) -> tuple[dict, pd.DataFrame | None]:
    """Coverage indicators of one simulated panel: a summary row and a per-grid-point frame."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        panel, truth = simulate_panel(seed=seed)
        if scenario.benchmarks == "linear":
            panel = linear_benchmarks(panel, truth, seed)
        row = {"scenario": scenario.name, "seed": seed, "floor_share": floor_share(panel, truth)}
        try:
            res = compare_interventions(panel, base=BASE, interventions={LABEL: INTERVENTION},
                                        reference_family=truth.reference_family, n_boot=n_boot, seed=seed,
                                        reference_resampling=scenario.reference_resampling)
            band, growth = res.band(GAP), res.growth_tests().loc[GAP]
        except OSLError as error:  # a panel the method cannot handle is a row, not a crash
            return row | {"status": f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"}, None
    x = band.index.to_numpy()
    true = truth.gap_curve(INTERVENTION, BASE, x)
    inside = ((band["lower"] <= true) & (true <= band["upper"])).to_numpy()
    lo, hi = res.reference_range
    where = np.where(x < lo, "below", np.where(x > hi, "above", "within"))
    true_growth = float(np.diff(truth.gap_curve(INTERVENTION, BASE, res.growth_points.to_numpy()))[0])
    base = truth.targets[BASE]
    w_true = float(truth.family_slopes.loc[truth.reference_family].to_numpy() @ base.beta)
    row |= {
        "status": "ok",
        "pointwise": float(inside.mean()),
        "simultaneous": bool(((band["simultaneous_lower"] <= true) & (true <= band["simultaneous_upper"])).all()),
        "growth_covered": bool(growth["lower"] <= true_growth <= growth["upper"]),
        "growth_rejects": bool(growth["p_value"] < 0.05),
        "true_growth": true_growth,
        "failed_replicates": res.replicates.n_failed,
        "w_ratio": float(res.equivalents["base"].params["w"]) / w_true,
        "max_error_over_se": float(np.max(np.abs(band["estimate"].to_numpy() - true) / band["se"].to_numpy())),
        "grid_low": float(x[0]), "grid_high": float(x[-1]),
        "share_grid_within_reference": float(np.mean(where == "within")),
    }
    points = pd.DataFrame({"scenario": scenario.name, "seed": seed, "point": np.arange(len(x)), "x": x,
                           "relative_to_reference": where, "covered": inside, "truth": true,
                           "error": band["estimate"].to_numpy() - true, "se": band["se"].to_numpy(),
                           "miss": np.maximum(band["lower"].to_numpy() - true, true - band["upper"].to_numpy())
                           .clip(min=0)})
    return row, points


def coverage_runs(scenarios=SCENARIOS, seeds=range(100), *, n_boot: int = 150,
                  n_jobs: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (scenario, seed) rows and per (scenario, seed, grid point) rows."""
    jobs = [(s, seed) for s in scenarios for seed in seeds]
    out = Parallel(n_jobs=n_jobs)(delayed(one_seed)(s, seed, n_boot) for s, seed in jobs)
    rows = pd.DataFrame([row for row, _ in out])
    points = [p for _, p in out if p is not None]
    return rows, pd.concat(points, ignore_index=True) if points else pd.DataFrame()


def _binomial_se(p: pd.Series, n: pd.Series) -> pd.Series:
    return np.sqrt(p * (1 - p) / n)


def _ok(rows: pd.DataFrame) -> pd.DataFrame:
    """The seeds the method handled, indicator columns as numbers (failed seeds leave them empty)."""
    flags = ["simultaneous", "growth_covered", "growth_rejects"]
    ok = rows[rows["status"] == "ok"]
    return ok.assign(**{c: ok[c].astype(float) for c in flags})


def scenario_table(rows: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    ok = _ok(rows)
    by = ok.groupby("scenario", sort=False)
    table = pd.DataFrame({
        "seeds": rows.groupby("scenario", sort=False).size(),
        "failed_seeds": rows.assign(bad=rows["status"] != "ok").groupby("scenario", sort=False)["bad"].sum(),
        "pointwise": by["pointwise"].mean(),
        "simultaneous": by["simultaneous"].mean(),
        "growth_covered": by["growth_covered"].mean(),
        "growth_power": by["growth_rejects"].mean(),
        "failed_replicates_mean": by["failed_replicates"].mean(),
        "w_ratio_median": by["w_ratio"].median(),
    })
    table.insert(4, "simultaneous_se", _binomial_se(table["simultaneous"], table["seeds"] - table["failed_seeds"]))
    where = points.groupby(["scenario", "relative_to_reference"], sort=False)["covered"].mean().unstack()
    table = table.join(where.reindex(columns=["below", "within", "above"]).add_prefix("pointwise_"))
    missed = points[~points["covered"]].groupby("scenario", sort=False)["miss"]
    relevant = points[points["truth"].abs() >= RELEVANT_GAP].groupby("scenario", sort=False)["covered"].mean()
    return table.assign(pointwise_gap_over_1pt=relevant, miss_median=missed.median(),
                        miss_90th=missed.quantile(0.9))


#: Grid points whose true gap is at least this (one accuracy point) enter ``pointwise_gap_over_1pt``.
RELEVANT_GAP = 0.01


def per_point_table(points: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and grid point: coverage, mean error / se, share of seeds where the point lies within
    the reference family's compute."""
    grouped = points.assign(z=points["error"] / points["se"],
                            within=points["relative_to_reference"] == "within").groupby(["scenario", "point"],
                                                                                         sort=False)
    return pd.DataFrame({"coverage": grouped["covered"].mean(), "mean_error_over_se": grouped["z"].mean(),
                         "median_abs_error": grouped["error"].apply(lambda e: float(np.median(np.abs(e)))),
                         "share_within_reference": grouped["within"].mean(), "seeds": grouped.size()})


def common_seeds_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per scenario, on the seeds every scenario handled (a like-for-like comparison)."""
    ok = _ok(rows)
    common = set.intersection(*(set(g["seed"]) for _, g in ok.groupby("scenario", sort=False)))
    same = ok[ok["seed"].isin(common)].groupby("scenario", sort=False)
    return pd.DataFrame({"seeds": same.size(), "pointwise": same["pointwise"].mean(),
                         "simultaneous": same["simultaneous"].mean(), "growth_covered": same["growth_covered"].mean()})


def floor_breakdown(rows: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """Headline scenario by terciles of the reference models' floor share."""
    ok = _ok(rows)
    ok = ok[ok["scenario"] == scenario]
    ok["floor_tercile"] = pd.qcut(ok["floor_share"], 3, labels=["lowest third", "middle third", "highest third"],
                                  duplicates="drop")
    grouped = ok.groupby("floor_tercile", observed=True)
    return pd.DataFrame({"seeds": grouped.size(), "floor_share_range": grouped["floor_share"].agg(
        lambda s: f"{s.min():.2f}-{s.max():.2f}"), "pointwise": grouped["pointwise"].mean(),
        "simultaneous": grouped["simultaneous"].mean(), "w_ratio_median": grouped["w_ratio"].median()})


def findings(table: pd.DataFrame, floors: pd.DataFrame) -> list[str]:
    """The study's answers in words; the numbers come from the tables (the wording was written for the
    committed run)."""
    def pick(benchmarks: str, mode: str) -> pd.Series:
        return table.loc[f"{benchmarks} benchmarks, reference {mode}"]

    head, linear = pick("simulated", "within"), pick("linear", "within")
    fixed, fixed_linear, pooled = pick("simulated", "fixed"), pick("linear", "fixed"), pick("simulated", "pooled")
    low, high = floors.iloc[0], floors.iloc[-1]
    return [
        f"**Headline (the simulator's panels, default settings): the bands under-cover.** Pointwise "
        f"{head['pointwise']:.3f}, simultaneous {head['simultaneous']:.3f} (SE {head['simultaneous_se']:.3f}), growth "
        f"interval {head['growth_covered']:.3f}, for a nominal 0.95. Pointwise coverage is {head['pointwise_below']:.3f} "
        f"below the reference family's compute, {head['pointwise_within']:.3f} within and {head['pointwise_above']:.3f} "
        f"above it. The misses are not marginal: where the truth is outside the band, it is a median "
        f"{head['miss_median']:.3f} (90th percentile {head['miss_90th']:.3f}) accuracy units outside.",
        f"**First cause: benchmark floors bend the reference line (a bias no bootstrap can see).** With the same "
        f"truth but benchmarks linear in the capabilities (no chance floor, no clipping), the same bands cover "
        f"{linear['pointwise']:.3f} pointwise, {linear['simultaneous']:.3f} simultaneously and "
        f"{linear['growth_covered']:.3f} for the growth, and the base law's reference slope goes from "
        f"{head['w_ratio_median']:.3f} to {linear['w_ratio_median']:.3f} of the true one (median). Within the "
        f"headline scenario coverage falls with the share of the reference models' benchmark cells at their floor: "
        f"{low['pointwise']:.3f} pointwise / {low['simultaneous']:.3f} simultaneous (slope ratio "
        f"{low['w_ratio_median']:.2f}) in the third of seeds with the fewest ({low['floor_share_range']}), "
        f"{high['pointwise']:.3f} / {high['simultaneous']:.3f} (slope ratio {high['w_ratio_median']:.2f}) in the third "
        f"with the most ({high['floor_share_range']}). Scores stuck at chance make the principal capabilities, and "
        "so the aggregate capability P, flatten for weak models: the line P = w log10 C + b through weak reference "
        "models is too shallow, which stretches every curve along the axis. Every bootstrap replicate has the same "
        "floors, so the bands are centred on the biased curve.",
        f"**Second cause (and why the default resamples the reference models): their own scatter.** Kept fixed, "
        f"the reference models' deviations from their family's expected capabilities are left out of the bands: "
        f"coverage {fixed_linear['pointwise']:.3f} pointwise / {fixed_linear['simultaneous']:.3f} simultaneous even "
        f"with linear benchmarks ({fixed['pointwise']:.3f} / {fixed['simultaneous']:.3f} with the simulator's). "
        f"Pooled resampling covers about as well as within-family resampling ({pooled['pointwise']:.3f} / "
        f"{pooled['simultaneous']:.3f} vs {head['pointwise']:.3f} / {head['simultaneous']:.3f}) at about twice the "
        f"failed replicates ({pooled['failed_replicates_mean']:.1f} vs {head['failed_replicates_mean']:.1f} of each "
        "run's B).",
        f"**Refusals.** In {int(head['failed_seeds'])} of {int(head['seeds'])} simulated panels the method refuses "
        "(FitError): the reference family's line has a slope not distinguishable from 0, nearly always a family of "
        "4 to 6 models. They are listed below and left out of the coverage.",
        "**What it means for real data.** The bands are trustworthy only when the reference family's models sit "
        "well above the benchmarks' floors (the lowest third above, still a little under nominal) and mostly "
        "within its compute range; beyond it (the last grid points) they are optimistic even with linear "
        f"benchmarks ({linear['pointwise_above']:.3f} above vs {linear['pointwise_within']:.3f} within). Llama-2's "
        "three models are at least 0.12 above chance on every benchmark of the public data.",
    ]


def write_report(rows: pd.DataFrame, points: pd.DataFrame, *, n_boot: int, minutes: float) -> Path:
    from osltools.summary import markdown_table

    table = scenario_table(rows, points)
    per_point = per_point_table(points)
    headline = SCENARIOS[0].name
    path = REPORTS / "interventions_coverage.md"
    per_point.reset_index().to_csv(REPORTS / "interventions_coverage.csv", index=False)
    headline_points = per_point.loc[headline].iloc[::5]
    failures = rows[rows["status"] != "ok"]
    lines = [
        "# Coverage of the intervention gap bands (simulated panels, known truth)",
        "",
        f"{rows['seed'].nunique()} seeds per scenario, B = {n_boot} bootstrap replicates per seed, nominal 95%; "
        f"run time {minutes:.0f} min (2 cores, shared). Produced by `analyses/interventions_coverage.py`; per grid "
        "point in `interventions_coverage.csv`; the raw per-seed and per-point results in "
        "`interventions_coverage_seeds.csv` and `interventions_coverage_points.csv.gz`.",
        "",
        "Truth: `truth.gap_curve('intervention_task', 'base_task', x)`, the gap along the simulated reference "
        "family's *expected* capabilities at log10 compute x. Panels: `simulate_panel(seed=s)` (100 models, 20 "
        "families, reference family with >= 4 models); law: floor form with Huber loss (the default); "
        "grid: 50 points spanning the models' equivalent FLOPs. Monte Carlo SE of a coverage near 0.95 over 100 "
        "seeds: about 0.022.",
        "",
        "## Findings",
        "",
        *[f"- {line}" for line in findings(table, floor_breakdown(rows, headline))],
        "",
        "## Per scenario",
        "",
        markdown_table(table, digits=3),
        "",
        "pointwise: share of (seed, grid point) pairs covered; pointwise_below / within / above: the same for grid "
        "points below, within and above the reference family's compute range; pointwise_gap_over_1pt: the same "
        f"for points whose true gap is at least {RELEVANT_GAP} (one accuracy point); miss_median / miss_90th: how far "
        "the truth lies outside the band where it is missed (accuracy units); w_ratio: estimated slope of the "
        "base law's reference line over the true slope of its logit along the reference family.",
        "",
        "The refused seeds (listed at the end) differ between the simulated and the linear benchmarks; on the "
        "seeds every scenario handled:",
        "",
        markdown_table(common_seeds_table(rows), digits=3),
        "",
        f"## Headline scenario ({headline}) by grid point (every 5th of 50)",
        "",
        markdown_table(headline_points, digits=3),
        "",
        f"## Headline scenario by the reference models' share of benchmark cells at their floor",
        "",
        markdown_table(floor_breakdown(rows, headline), digits=3),
        "",
    ]
    if len(failures):
        reason = failures["status"].str.replace(r" \(w = .*| the first:.*", "", regex=True)
        reason = reason.str.replace(r"'Alfa' \(\d+ models\)", "'Alfa'", regex=True)
        grouped = failures.assign(reason=reason).groupby(["scenario", "reason"], sort=False)["seed"]
        listed = pd.DataFrame({"seeds": grouped.size(), "which": grouped.agg(lambda x: ", ".join(map(str, x)))})
        lines += ["## Seeds the method refused (FitError; not counted in the coverage)", "",
                  markdown_table(listed), ""]
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--n-boot", type=int, default=150)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from the saved raw results")
    args = parser.parse_args()
    seeds_csv, points_csv = REPORTS / "interventions_coverage_seeds.csv", REPORTS / "interventions_coverage_points.csv.gz"
    if args.report_only:
        rows, points = pd.read_csv(seeds_csv), pd.read_csv(points_csv)
        minutes = float(RUN_MINUTES.read_text())
    else:
        start = time.perf_counter()
        rows, points = coverage_runs(SCENARIOS, range(args.seeds), n_boot=args.n_boot, n_jobs=args.n_jobs)
        minutes = (time.perf_counter() - start) / 60
        rows.to_csv(seeds_csv, index=False)
        points.to_csv(points_csv, index=False, float_format="%.6g")
        RUN_MINUTES.write_text(f"{minutes:.1f}\n")
    path = write_report(rows, points, n_boot=args.n_boot, minutes=minutes)
    print(path.read_text())


if __name__ == "__main__":
    main()
