"""Per-family log-linearity of the principal capabilities on the paper's public base-model table.

For each model set (all 148 models of ``obsscaling-base`` and the paper's 77-model
main set) it fits ``CapabilityPCA(n_components=k)``, then
``FamilyScaling.from_capabilities`` on PC1..PCk, and reports

- the per-family R² of PC-1 on log10 FLOPs (the paper: above 0.9 in each family it fitted),
- the slope-homogeneity F-test, the pooled quadratic test and RESET,
- the compute-efficiency ranking of PC-1 at the median compute, with offsets from Llama-2,
- the models the influence diagnostics flag, with their size, tokens and FLOPs,
- the full summary.

Run: ``python analyses/loglinear_public.py [--k 3] [--reference Llama-2]``; writes
``reports/loglinear_public.md`` and ``reports/loglinear_public_families.csv``.
It needs ``osltools.capabilities`` (imported when run).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd

from osltools import datasets
from osltools.exceptions import OSLWarning
from osltools.loglinear import FamilyScaling, FamilyScalingResults
from osltools.summary import markdown_table

REPORTS = Path(__file__).resolve().parents[1] / "reports"
R2_CLAIM = 0.9  # the paper: PC-1 is log-linear in compute with R² above 0.9 in each family it fitted


def analyse(caps, *, components: list[str], reference: str | None) -> tuple[FamilyScalingResults, list[str]]:
    """Fit FamilyScaling on a CapabilityResults; returns the results and the warnings it raised (one line each)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OSLWarning)
        results = FamilyScaling.from_capabilities(caps, components=components, reference=reference).fit()
    return results, [str(w.message).splitlines()[0] for w in caught if issubclass(w.category, OSLWarning)]


def r2_section(results: FamilyScalingResults, component: str = "PC1") -> list[str]:
    table = results.family_table(component)
    below = table[table["r2"] < R2_CLAIM]
    lines = [
        f"R² of {component} on log10 FLOPs in the {len(table)} fitted families: median {table['r2'].median():.3f}, "
        f"min {table['r2'].min():.3f}; {int((table['r2'] >= R2_CLAIM).sum())} of {len(table)} at or above "
        f"{R2_CLAIM} (the paper: above {R2_CLAIM} in each family it fitted). "
        f"{int(table['fragile'].sum())} families have one residual df (R² near 1 by construction).",
    ]
    if len(below):
        lines += ["", f"Families below {R2_CLAIM}:", "",
                  markdown_table(below[["n", "df_resid", "slope", "slope_lower", "slope_upper", "r2", "quad_p"]])]
    return lines


def report(results: FamilyScalingResults, *, title: str, warned: list[str]) -> str:
    """One Markdown section: R² headline, pooled tests, efficiency ranking, flagged models, full summary."""
    pooled = results.pooled[["homogeneity_F", "homogeneity_df_num", "homogeneity_df_den", "homogeneity_p",
                             "quad_coef", "quad_p", "reset_F", "reset_p", "common_slope", "mixed_slope",
                             "mixed_slope_sd"]]
    first = results.components[0]
    efficiency = results.efficiency(first)[["n", "level", "level_lower", "level_upper", "rank", "offset",
                                             "offset_lower", "offset_upper", "offset_p_adj", "extrapolated"]]
    flagged = results.flagged
    lines = [f"## {title}", "", repr(results), ""]
    lines += r2_section(results, first)
    lines += ["", "### Pooled tests (slope homogeneity, log-linearity)", "", markdown_table(pooled), ""]
    lines += [f"### Compute efficiency: {first} at log10 FLOPs = {results.reference_compute:.3f}, offsets from "
              f"{results.reference_family}", "", markdown_table(efficiency), ""]
    lines += ["### Flagged models", ""]
    lines += [markdown_table(flagged) if len(flagged) else "No model flagged.", ""]
    if warned:
        lines += ["### Warnings", ""] + [f"- {w}" for w in dict.fromkeys(warned)] + [""]
    lines += [results.summary().as_markdown(level=3)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="obsscaling-base")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--reference", default="Llama-2")
    parser.add_argument("--out", type=Path, default=REPORTS)
    args = parser.parse_args(argv)
    from osltools.capabilities import CapabilityPCA  # lands on main separately

    components = [f"PC{j + 1}" for j in range(args.k)]
    sections, tables = [], []
    for model_set in ("all", "main"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OSLWarning)
            panel = datasets.load_panel(args.dataset, model_set=model_set)
        caps = CapabilityPCA(n_components=args.k).fit(panel)
        results, warned = analyse(caps, components=components, reference=args.reference)
        sections.append(report(results, title=f"{args.dataset}, model set '{model_set}' ({panel.n_models} models)",
                               warned=warned))
        tables.append(results.families.assign(model_set=model_set))
    args.out.mkdir(parents=True, exist_ok=True)
    header = ["# Per-family log-linearity on the public data", "",
              f"`python analyses/loglinear_public.py --k {args.k} --reference {args.reference}`; "
              f"CapabilityPCA(n_components={args.k}) fitted on each model set.", ""]
    (args.out / "loglinear_public.md").write_text("\n".join(header + sections))
    pd.concat(tables).to_csv(args.out / "loglinear_public_families.csv")
    print("\n".join(sections))


if __name__ == "__main__":
    main()
