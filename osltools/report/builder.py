"""Build a complete report: check the configuration, run every section, render, and move it into place atomically."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import __version__, datasets, plotting
from ..data import Panel
from ..exceptions import ConfigError
from ..readers import file_sha256, read_targets_csv
from .config import DEMO_BOOTSTRAP, InterventionSpec, ReportConfig, TargetSpec
from .document import CodeBlock, ReportWriter, Section
from .output import StagedReport
from .render import render_html, render_markdown
from .sections import (Context, capability_section, data_section, equivalent_section, interventions_section,
                       law_section, loglinear_section)

__all__ = ["Demo", "build_report", "check_config", "config_for", "demo_inputs", "prepare_panel"]

PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "patsy", "matplotlib", "seaborn", "jinja2", "joblib")


@dataclass(frozen=True)
class Demo:
    """The demo's provenance: the simulator's seed and the truth it was drawn from."""

    seed: int
    truth: object


def demo_inputs(seed: int = 0) -> tuple[Panel, ReportConfig, Demo]:
    """The demo: a simulated panel with its targets, interventions and reference family, and a modest bootstrap.

    Examples
    --------
    >>> panel, config, demo = demo_inputs(seed=0)
    >>> [t.name for t in config.targets]
    ['emergent_task', 'base_task']
    """
    panel, truth = datasets.simulate_panel(seed=seed)
    config = ReportConfig(
        title="osltools demo report (simulated panel)",
        targets=(TargetSpec("emergent_task", label="emergent task"), TargetSpec("base_task", label="base task")),
        interventions=InterventionSpec("base_task", (("intervention", "intervention_task"),), loss="linear"),
        reference_family=truth.reference_family, bootstrap=DEMO_BOOTSTRAP, seed=seed,
    )
    return panel, config, Demo(seed, truth)


# ---------------------------------------------------------------------------------------------- inputs
def prepare_panel(panel: Panel | None, config: ReportConfig, *, data_dir: str | Path | None = None) -> Panel:
    """The panel a report works on: the given one or the configured dataset, joined targets, the model set."""
    if panel is None:
        if config.dataset is None:
            raise ConfigError("no data: give PATH, --dataset NAME or --demo, or dataset = \"...\" in the configuration")
        panel = datasets.load_panel(config.dataset, data_dir=data_dir, warn=False)
    for name in config.join:
        other = datasets.load_panel(name, data_dir=data_dir, warn=False)
        if other.target_names.empty:
            raise ConfigError(f"join = [{name!r}]: dataset {name!r} has no targets to attach "
                              f"(datasets with targets: {', '.join(_datasets_with_targets())})")
        panel = panel.with_targets(other.targets, sources=other.sources, label=f"targets of {name}", warn=False)
    for path in config.targets_files:
        targets = read_targets_csv(path)
        panel = panel.with_targets(targets, sources={str(path): file_sha256(path)}, label=Path(path).name, warn=False)
    if config.model_set is not None:
        panel = panel.select(datasets.models_in_set(config.model_set, panel))
    return panel


def _datasets_with_targets() -> list[str]:
    return [n for n, s in datasets.DATASETS.items() if s.targets_file or s.target_columns_in_scores]


def default_reference_family(panel: Panel, config: ReportConfig) -> str:
    """The configured reference family, else the dataset's, else Llama-2 when present, else the largest family."""
    if config.reference_family is not None:
        return config.reference_family
    if config.dataset is not None:
        return datasets.reference_family(config.dataset)
    if "Llama-2" in set(panel.families):
        return "Llama-2"
    counts = panel.meta.loc[panel.meta["flops"].notna(), "family"].value_counts()
    if counts.empty:
        raise ConfigError("no model has training FLOPs: f-equivalent FLOPs need a reference family with compute")
    return str(counts.index[0])


def check_config(panel: Panel, config: ReportConfig, reference_family: str) -> None:
    """Every name in the configuration exists in the panel (before any work is done)."""
    where = f"{config.source}: " if config.source else ""
    targets = list(map(str, panel.target_names))
    shown = ", ".join(targets[:12]) + (f", ... ({len(targets) - 12} more)" if len(targets) > 12 else "")
    names = [t.name for t in config.targets] + list(config.interventions.columns if config.interventions else ())
    for name in names:
        if name not in set(targets):
            raise ConfigError(f"{where}unknown target {name!r} (targets of the panel: {shown or 'none'}; attach "
                              "more with join = [dataset] or targets_files = [csv])")
    if reference_family not in set(panel.families):
        raise ConfigError(f"{where}unknown family {reference_family!r} for reference_family (families: "
                          f"{', '.join(panel.families)})")
    for spec in config.targets:
        unknown = [b for b in spec.exclude_from_pca if b not in set(panel.benchmarks)]
        if unknown:
            raise ConfigError(f"{where}targets[{spec.name!r}].exclude_from_pca: unknown benchmark {unknown[0]!r} "
                              f"(benchmarks: {', '.join(panel.benchmarks)})")
    if config.k is not None and not 1 <= config.k < panel.n_benchmarks:
        raise ConfigError(f"{where}k = {config.k} is not accepted for {panel.n_benchmarks} benchmarks (expected 1 to "
                          f"{panel.n_benchmarks - 1}, or \"auto\")")


# ---------------------------------------------------------------------------------------------- methods
def _versions() -> pd.DataFrame:
    rows = {"python": platform.python_version(), "osltools": __version__}
    for name in PACKAGES:
        try:
            rows[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - all are dependencies
            rows[name] = "not installed"
    return pd.DataFrame({"version": pd.Series(rows)}).rename_axis("software")


def _sources(panel: Panel) -> pd.DataFrame:
    pinned = {sha: name for name, sha in datasets.FILES.items()}
    rows = [{"file": Path(path).name, "sha256": sha, "pinned upstream file": pinned.get(sha, "")}
            for path, sha in panel.sources.items()]  # the name, not the local folder: the sha256 identifies it
    return pd.DataFrame(rows, columns=["file", "sha256", "pinned upstream file"])


def methods_section(ctx: Context, *, demo: Demo | None, command: str | None) -> Section:
    cfg, w = ctx.config, ctx.writer
    section = Section("methods", "Methods and reproducibility")
    section.text(
        "Method: Ruan, Maddison & Hashimoto (2024), observational scaling laws. (1) Missing benchmark scores are "
        "filled by rank-1 PCA imputation on standardized columns, iterated until the imputed cells stop changing, "
        "and clipped to [0, 1]. (2) Principal capabilities are the PCA of the centred scores (each component "
        "oriented so its loadings sum to a positive number). (3) A target is a sigmoid of the capabilities with a "
        "floor/ceiling, fitted by bounded least squares from several starts; standard errors from the Jacobian, "
        "t-based intervals, delta-method bands. (4) Laws are backtested: imputation, PCA and law refitted on the "
        "training models, judged on held-out models, against laws on log10 FLOPs and log10 parameters. "
        "(5) f-equivalent FLOPs map every model to the reference family's compute axis."
    )
    if demo is not None:
        section.text(f"Data: simulated by osltools.datasets.simulate_panel(seed={demo.seed}) from the method's own "
                     f"equations (true K = {demo.truth.n_components}, reference family {demo.truth.reference_family}).")
    else:
        section.text(f"Data: {datasets.CITATION}." if not _sources(ctx.panel).empty and
                     _sources(ctx.panel)["pinned upstream file"].ne("").any() else "Data: the files listed below.")
    section.text(f"Seed: {cfg.seed} (every random step draws from it). Bootstrap replicates: {cfg.bootstrap}"
                 + (" (kept modest so the demo runs in seconds; use --bootstrap 1000 or more for publication)."
                    if demo is not None else "."))
    if command:
        section.add(CodeBlock(command, "bash"))
    section.add(w.table("software", _versions(), "Software versions"))
    sources = _sources(ctx.panel)
    if not sources.empty:
        section.add(w.table("data_sources", sources, "Input files and their sha256"))
    section.text("Effective configuration (file values, overridden by command-line flags):")
    section.add(CodeBlock(cfg.as_toml(), "toml"))
    return section


def summary_section(ctx: Context) -> Section:
    section = Section("summary", "At a glance")
    caps = ctx.caps
    lines = [f"{ctx.panel.n_models} models, {len(ctx.panel.families)} families, {ctx.panel.n_benchmarks} benchmarks.",
             f"Capability space: K = {ctx.k} components explain {caps.cumulative_ratio.iloc[ctx.k - 1]:.1%} of the "
             f"variance (PC-1 alone {caps.explained_variance_ratio.iloc[0]:.1%}); cross-validation recommends "
             f"K = {ctx.selection.recommended}."]
    for summary in ctx.extra.get("summary", []):
        lines.append(summary)
    for result in ctx.targets:
        table = result.backtest.table.loc[result.spec.name]
        main = f"pcs:{ctx.k}"
        if table.at[main, "status"] != "ok":
            lines.append(f"{result.spec.title}: the {main} law could not be fitted.")
            continue
        text = f"{result.spec.title}: held-out MSE of the {main} law {table.at[main, 'mse']:.3g}"
        if "flops" in table.index and table.at["flops", "status"] == "ok":
            text += f" vs {table.at['flops', 'mse']:.3g} for log10 FLOPs"
        lines.append(text + f" (best: {result.backtest.winners[result.spec.name]}).")
    gaps = ctx.extra.get("interventions")
    if gaps is not None:
        for name, row in gaps.growth_tests().iterrows():
            lines.append(f"Intervention gap {name}: grows by {row['growth']:.3g} from log10 C-bar {row['x_low']:.3g} to "
                         f"{row['x_high']:.3g} ({ctx.level} CI [{row['lower']:.3g}, {row['upper']:.3g}]).")
    for line in lines:
        section.text(line)
    if ctx.notes:
        section.text("Choices made for this analysis:")
        for note in ctx.notes:
            section.text(note, "note")
    return section


# ---------------------------------------------------------------------------------------------- build
def _progress(quiet: bool) -> Callable[[str], None]:
    start = time.perf_counter()

    def report(message: str) -> None:
        if not quiet:
            print(f"[osl report {time.perf_counter() - start:5.1f}s] {message}", file=sys.stderr, flush=True)

    return report


def _sections(ctx: Context, *, demo: Demo | None, command: str | None) -> list[Section]:
    ctx.progress("data: missingness and plausibility")
    sections = [data_section(ctx), capability_section(ctx), loglinear_section(ctx)]
    sections += [law_section(ctx, spec) for spec in ctx.config.targets]
    sections.append(equivalent_section(ctx))
    sections.append(interventions_section(ctx))
    sections.append(methods_section(ctx, demo=demo, command=command))
    return [summary_section(ctx)] + [s for s in sections if s is not None]


def build_report(
    out: str | Path,
    *,
    panel: Panel | None = None,
    config: ReportConfig | None = None,
    demo: Demo | None = None,
    quiet: bool = False,
    command: str | None = None,
    data_dir: str | Path | None = None,
    notes: Sequence[str] = (),
    sections: Callable[..., list[Section]] | None = None,
) -> Path:
    """Run every analysis of ``config`` on the panel and write the report to ``out`` (atomically).

    Parameters
    ----------
    out : the report folder (see :mod:`osltools.report.output` for how an existing one is treated).
    panel : the data (default: the configuration's ``dataset``); targets of ``join`` / ``targets_files`` are
        attached and ``model_set`` is applied in both cases.
    config : what to report (default :class:`ReportConfig()`: data and capability space only).
    demo : set for a simulated panel: the report says so at the top.
    quiet : no progress lines on stderr.
    command : the command line, shown in the methods section.
    data_dir : folder of the public files (else ``OSLTOOLS_DATA_DIR``, the cache, a download).
    notes : the analysis' own choices (e.g. how a target was rescaled), shown after the summary.
    sections : the function that builds the sections from a :class:`~osltools.report.sections.Context`
        (default: every section the configuration asks for).

    Returns
    -------
    Path of the report folder, holding ``report.html``, ``report.md``, ``figures/`` and ``tables/``.

    Raises
    ------
    ConfigError
        Unknown target, family or benchmark; an output folder that cannot be written. Raised before any work.

    Examples
    --------
    >>> panel, config, demo = demo_inputs(seed=0)
    >>> build_report("demo-report", panel=panel, config=config, demo=demo)  # doctest: +SKIP
    PosixPath('demo-report')
    """
    config = config or ReportConfig()
    progress = _progress(quiet)
    panel = prepare_panel(panel, config, data_dir=data_dir)
    reference = default_reference_family(panel, config)
    check_config(panel, config, reference)
    with StagedReport(out) as stage:
        ctx = Context(panel=panel, config=config, writer=ReportWriter(stage.path), reference_family=reference,
                      progress=progress, styles=plotting.family_styles(panel.families), notes=list(notes))
        built = (sections or _sections)(ctx, demo=demo, command=command)
        title = config.title or f"Observational scaling report: {panel.name or 'panel'}"
        banner = None
        if demo is not None:
            banner = (f"DEMO: every number in this report comes from a SIMULATED panel (simulate_panel(seed="
                      f"{demo.seed})), not from real models. Bootstrap sizes are modest ({config.bootstrap} "
                      "replicates) so that it runs in seconds.")
        footer = f"Made by osltools {__version__} (`osl report`); seed {config.seed}."
        progress("rendering HTML and Markdown")
        (stage.path / "report.html").write_text(render_html(title=title, banner=banner, sections=built, footer=footer),
                                                encoding="utf-8")
        (stage.path / "report.md").write_text(render_markdown(title=title, banner=banner, sections=built,
                                                              footer=footer), encoding="utf-8")
        stage.write_manifest({"osltools": __version__, "seed": config.seed})
        path = stage.commit()
    progress(f"report written to {path}")
    return path


def config_for(config: ReportConfig, *, targets: Sequence[str] | None = None, **flags) -> ReportConfig:
    """``config`` with command-line flags applied (targets by name keep the file's per-target settings)."""
    if targets:
        config = config.with_targets(targets)
    return config.override(**flags)

