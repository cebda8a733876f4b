"""Speed of the intervention bootstrap on the public data (issue 6 target: B = 1000 under 60 s on 2 cores).

One run = :func:`osltools.interventions.compare_interventions` on the paper's
77-model post-training main set, B = 1000 replicates with n_jobs = 2 (loky);
each replicate refits imputation, PCA, every law and every equivalent-FLOPs
line. Two cases: the two-law pipeline (base GSM8K 5-shot and CoT) and the
paper's three laws (plus CoT + self-consistency, the defaults). Median of 3
runs after one warm-up run (which starts the workers). Also timed: one
replicate's pipeline in this process, per stage, to show where the time goes.

Run:  python benchmarks/bench_interventions.py   (writes reports/benchmarks/interventions.md)
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from timing import median_seconds, write_report

from osltools.datasets import load_panel
from osltools.exceptions import OSLWarning
from osltools.interventions import _GapPipeline, compare_interventions, predicted_metrics

N_BOOT = 1000


def stages(panel) -> list[tuple[str, object]]:
    """(name, callable) per stage of one replicate, on one fixed resample of the models."""
    res = compare_interventions(panel, n_boot=2, seed=0)
    spec = res._spec
    reference = np.flatnonzero((panel.meta["family"] == "Llama-2").to_numpy())
    gains = res.family_gains()
    family_of = gains.drop_duplicates("model").set_index("model")["family"]
    pipeline = _GapPipeline(spec, res.panel, grid=res.grid.to_numpy(), growth_points=res.growth_points.to_numpy(),
                            reference_positions=reference, reference_resampling="within",
                            family_panel=res.panel.select(list(family_of.index)), family_of=family_of)
    others = res.panel.drop(list(res.panel.models[reference]))
    rng = np.random.default_rng(1)
    resampled = others.resample(rng.integers(0, others.n_models, others.n_models))
    rebuilt = pipeline.rebuild(resampled, np.random.default_rng(2))
    fit = spec.fit(rebuilt, formulas=False)
    return [
        ("one replicate of the 3-law pipeline (rebuild, refit, read out)", lambda: pipeline(resampled, np.random.default_rng(2))),
        ("rebuild the panel (reference + resampled others)", lambda: pipeline.rebuild(resampled, np.random.default_rng(2))),
        ("imputation, PCA, 3 laws, 3 equivalent-FLOPs lines", lambda: spec.fit(rebuilt, formulas=False)),
        ("read-out: curves, gaps, weights, family predictions", lambda: pipeline.read_out(fit)),
        ("  of which family predictions", lambda: predicted_metrics(fit, pipeline.family_panel)),
    ]


def main() -> None:
    warnings.simplefilter("ignore", OSLWarning)
    panel = load_panel("obsscaling-post-training", model_set="main")
    rows = []
    for what, interventions in (("2 laws: base, CoT", {"CoT": "gsm8k_cot"}),
                                ("3 laws: base, CoT, CoT+SC", {"CoT": "gsm8k_cot", "CoT+SC": "gsm8k_cot_sc"})):
        load = os.getloadavg()[0]
        full, times = median_seconds(lambda: compare_interventions(panel, interventions=interventions, n_boot=N_BOOT,
                                                                   seed=0, n_jobs=2), repeat=3)
        rows.append({"case": f"compare_interventions, B = {N_BOOT}, n_jobs = 2, {what}", "median": f"{full:.1f} s",
                     "runs": ", ".join(f"{t:.1f} s" for t in times), "target": "60 s",
                     "machine": f"1-min load average {load:.2f} before, {os.getloadavg()[0]:.2f} after"})
    parts = [(name, median_seconds(func, repeat=20, warmup=2)[0]) for name, func in stages(panel)]
    rows += [{"case": f"stage: {name}", "median": f"{seconds * 1e3:.1f} ms", "runs": "", "target": "", "machine": ""}
             for name, seconds in parts]
    write_report("interventions", "Intervention bootstrap speed (public post-training data, 77-model main set)", rows)


if __name__ == "__main__":
    main()
