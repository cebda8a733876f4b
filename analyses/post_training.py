"""Post-training interventions on the public data: a full report of GSM8K with and without chain of thought.

The paper's settings (those of ``analyses/interventions_public.py``, whose
interventions are imported here): the 77-model main set with the
post-training targets; base metric GSM8K 5-shot (``gsm8k_5``), interventions
8-shot chain of thought (``gsm8k_cot``) and CoT with self-consistency
(``gsm8k_cot_sc``), all flexible-extract columns; 3 principal capabilities;
the floor form of the law with a Huber loss; Llama-2 as reference family.
Beyond the gap curves of ``interventions_public.md`` the report has every
metric's own law with its held-out backtest against log FLOPs and log size,
the figures, and every model's equivalent FLOPs.

Run ``python analyses/post_training.py``; writes ``reports/post_training/``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from interventions_public import INTERVENTIONS

from osltools.exceptions import OSLWarning
from osltools.report import InterventionSpec, ReportConfig, TargetSpec, build_report
from osltools.validation import PREDICTORS

ROOT = Path(__file__).resolve().parents[1]
BASE = "gsm8k_5"
LABELS = {"gsm8k_5": "GSM8K 5-shot", "gsm8k_cot": "GSM8K with CoT", "gsm8k_cot_sc": "GSM8K with CoT + self-consistency"}


def config() -> ReportConfig:
    columns = [BASE, *INTERVENTIONS.values()]
    targets = tuple(TargetSpec(c, label=LABELS.get(c, c), bounds="floor", loss="huber", predictors=PREDICTORS)
                    for c in columns)
    return ReportConfig(
        title="Post-training interventions on the public data: GSM8K with chain of thought and self-consistency",
        dataset="obsscaling-base", model_set="main", join=("obsscaling-post-training",), targets=targets,
        interventions=InterventionSpec(BASE, tuple(INTERVENTIONS.items()), bounds="floor", loss="huber"),
        reference_family="Llama-2", k=3, bootstrap=1000, seed=0, n_jobs=2,
    )


def main() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)  # the report lists them where they belong
        path = build_report(ROOT / "reports" / "post_training", config=config(),
                            command="python analyses/post_training.py")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
