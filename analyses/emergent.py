"""Emergent capabilities on the public data: a full report of the paper's emergent-task laws.

The targets and their settings (compute cutoffs, GSM8K left out of the PCA
for arithmetic, bounds, Huber loss for GSM8K with CoT) are those of
``analyses/backtest_public.py`` (imported, not repeated); this script turns
them into a report: per target the sigmoid law on 3 principal capabilities
over Llama-2-equivalent FLOPs with its bands, the held-out backtest against
log FLOPs and log size, the weights in benchmark space and every model's
equivalent FLOPs, on the paper's 77-model main set.

Run ``python analyses/emergent.py``; writes ``reports/emergent/``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from backtest_public import SETTINGS

from osltools.exceptions import OSLWarning
from osltools.report import ReportConfig, TargetSpec, build_report
from osltools.validation import PREDICTORS

ROOT = Path(__file__).resolve().parents[1]


def config() -> ReportConfig:
    targets = tuple(TargetSpec(s.target, label=s.label, cutoff=s.cutoff, bounds=s.bounds, loss=s.loss,
                               exclude_from_pca=s.exclude_from_pca, predictors=PREDICTORS) for s in SETTINGS)
    joined = tuple(dict.fromkeys(s.dataset for s in SETTINGS))
    return ReportConfig(title="Emergent capabilities on the public data (77-model main set)",
                        dataset="obsscaling-base", model_set="main", join=joined, targets=targets,
                        reference_family="Llama-2", k=3, bootstrap=200, seed=0)


def main() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)  # the report lists them where they belong
        path = build_report(ROOT / "reports" / "emergent", config=config(), command="python analyses/emergent.py")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
