"""Reports: one command turns benchmark results into a statistical report (HTML and Markdown, figures, tables).

:func:`build_report` runs the analyses a :class:`ReportConfig` asks for
(read with :func:`load_config` from TOML) and writes ``report.html``
(self-contained), ``report.md``, ``figures/*.png|svg`` and ``tables/*.csv``
atomically; ``osl report`` is its command line.

Examples
--------
>>> from osltools.report import build_report, demo_inputs
>>> panel, config, demo = demo_inputs(seed=0)
>>> build_report("demo-report", panel=panel, config=config, demo=demo)  # doctest: +SKIP
"""

from .builder import Demo, build_report, config_for, demo_inputs
from .config import InterventionSpec, ReportConfig, TargetSpec, load_config

__all__ = ["Demo", "InterventionSpec", "ReportConfig", "TargetSpec", "build_report", "config_for", "demo_inputs",
           "load_config"]
