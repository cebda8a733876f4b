"""Agent capabilities of instruction-tuned models (AgentBench, AgentBoard) from their standard benchmarks.

The paper predicts agent scores of instruction-tuned models from the principal
capabilities of their seven standard benchmarks (MMLU, ARC-C, HellaSwag,
Winogrande, TruthfulQA, GSM8K, HumanEval), with Llama-2-Chat as the reference
family, and reads the laws' weights in benchmark space (code matters most).

The choices made for these data are listed in :data:`NOTES` and at the top of the report.

Run ``python analyses/agents.py``; writes ``reports/agents/``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd

from osltools.datasets import load_panel
from osltools.exceptions import OSLWarning
from osltools.report import ReportConfig, TargetSpec, build_report

ROOT = Path(__file__).resolve().parents[1]
ABENCH_TASKS = ("ABench-Code_OS", "ABench-Code_DB", "ABench-Code_KG", "ABench-Game_DCG", "ABench-Game_LTP",
                "ABench-Game_HH", "ABench-Web_WS", "ABench-Web_WB")
HOLDOUT_TOP = 0.2
PREDICTORS = ("pcs:1", "pcs:2")
NOTES = (
    "ABench-OA is not a fraction: AgentBench's overall score weights each task by the inverse of its average "
    "score over the models AgentBench evaluated, so it is a relative score on an open scale (0.03 to 4.01 here), and "
    "dividing it by its maximum would make the unit depend on which models are in the data. It is therefore not "
    "fitted by a sigmoid law. In its place the law is fitted to abench_mean, the plain mean of the eight AgentBench "
    "task scores (success rates or rewards in [0, 1] after dividing the published percentages by 100), for models "
    "with all eight; its rank correlation with ABench-OA is given below.",
    "Few models: 22 models have AgentBench scores and 12 AgentBoard scores, and the API models (GPT-4, Claude, "
    "GPT-3.5) have no published size or compute. Each law is trained on all but the strongest 20% of models by PC-1 "
    "(a capability split: a compute cutoff could not place the API models) and tested on those. No compute baseline "
    "is fitted (it would have to drop every API model). With so few models every interval is wide: read the bands, "
    "not only the curves. Two components (K = 2) keep each law at four parameters.",
    "The reference family Llama-2-Chat has three models with compute, so its equivalent-FLOPs line rests on one "
    "residual degree of freedom; the law sections warn where this matters.",
)


def agent_panel():
    """The instruction-tuned panel with ``abench_mean`` (mean of the eight AgentBench tasks, models with all eight)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        panel = load_panel("obsscaling-agent")
    tasks = panel.targets[list(ABENCH_TASKS)]
    mean = tasks.mean(axis=1).where(tasks.notna().all(axis=1)).rename("abench_mean")
    return panel.with_targets(mean.to_frame(), label="abench_mean (derived)", warn=False)


def oa_agreement(panel) -> str:
    both = panel.targets[["abench_mean", "ABench-OA"]].dropna()
    rho = both["abench_mean"].corr(both["ABench-OA"], method="spearman")
    return f"Spearman correlation of abench_mean with ABench-OA over {len(both)} models: {rho:.3f}"


def config() -> ReportConfig:
    def target(name: str, label: str) -> TargetSpec:
        return TargetSpec(name, label=label, holdout_top=HOLDOUT_TOP, bounds="floor", predictors=PREDICTORS)

    return ReportConfig(
        title="Agent capabilities of instruction-tuned models (AgentBench, AgentBoard)",
        targets=(target("abench_mean", "AgentBench, mean of 8 tasks"),
                 target("ABoard-Avg_PR", "AgentBoard progress rate"),
                 target("ABoard-Avg_SR", "AgentBoard success rate")),
        reference_family="Llama-2-Chat", k=2, bootstrap=1000, seed=0,
    )


def main() -> int:
    panel = agent_panel()
    print(oa_agreement(panel))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        path = build_report(ROOT / "reports" / "agents", panel=panel, config=config(), command="python analyses/agents.py",
                            notes=[*NOTES, oa_agreement(panel) + "."])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
