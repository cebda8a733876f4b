"""The ``osl`` command.

Every subcommand reads a panel from a file (``PATH``) or a named public
dataset (``--dataset NAME``). Problems with the input end the command with one
line per problem on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import click

from . import datasets
from .data import Panel
from .exceptions import DataValidationError, OSLError, OSLWarning
from .readers import read_panel

EXIT_ERROR = 1


def _fail(err: OSLError) -> None:
    lines = [str(p) for p in err.problems] if isinstance(err, DataValidationError) else str(err).splitlines()
    for line in lines:
        click.echo(f"error: {line.strip()}", err=True)
    sys.exit(EXIT_ERROR)


def handle_errors(func: Callable) -> Callable:
    """Turn OSLError (and unreadable paths) into one line per problem and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except OSLError as err:
            _fail(err)
        except (OSError, UnicodeDecodeError) as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


def _parse_metrics(items: tuple[str, ...]) -> dict[str, str] | None:
    if not items:
        return None
    metrics = {}
    for item in items:
        task, sep, metric = item.partition("=")
        if not sep or not task or not metric:
            raise click.BadParameter(f"{item!r} is not TASK=METRIC (e.g. arc_challenge=acc_norm,none)", param_hint="--metric")
        metrics[task] = metric
    return metrics


def panel_options(func: Callable) -> Callable:
    """PATH | --dataset NAME, with --scale, --meta, --metric, --model-set, --data-dir."""
    options = [
        click.argument("path", required=False, type=click.Path(path_type=Path)),
        click.option("--dataset", "dataset", metavar="NAME", help=f"public dataset: {', '.join(datasets.DATASETS)}"),
        click.option("--model-set", metavar="SET", help=f"named model set of the dataset: {', '.join(datasets.MODEL_SETS)}"),
        click.option("--data-dir", type=click.Path(path_type=Path), help="folder holding the public files"),
        click.option("--scale", type=float, default=1.0, show_default=True, help="divide scores by this (100 for percent)"),
        click.option("--meta", type=click.Path(path_type=Path), help="metadata CSV joined by model"),
        click.option("--metric", "metrics", multiple=True, metavar="TASK=METRIC", help="lm-eval metric per task"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def load_input(path, dataset, model_set, data_dir, scale, meta, metrics, *, warn: bool = False) -> Panel:
    """Build the Panel a command works on from its panel options."""
    if (path is None) == (dataset is None):
        raise click.UsageError("give either PATH or --dataset NAME (one of them)")
    with warnings.catch_warnings():
        warnings.simplefilter("default" if warn else "ignore", OSLWarning)
        if dataset is not None:
            panel = datasets.load_panel(dataset, data_dir=data_dir, warn=False)
        else:
            panel = read_panel(path, scale=scale, meta=meta, metrics=_parse_metrics(metrics), warn=False)
    if model_set is not None:
        panel = panel.select(datasets.models_in_set(model_set, panel))
    return panel


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="osltools")
def main() -> None:
    """osltools: observational scaling laws of language models."""


@main.group()
def data() -> None:
    """Inspect and validate benchmark data."""


@data.command("info")
@panel_options
@handle_errors
def data_info(**options) -> None:
    """Models, families, benchmarks, missingness, metadata coverage and plausibility warnings."""
    panel = load_input(**options)
    click.echo(panel.summary().as_text())
    fams = panel.meta["family"].value_counts()
    click.echo("\nModels per family")
    click.echo("-----------------")
    click.echo(", ".join(f"{f} ({n})" for f, n in fams.items()))
    names = list(map(str, panel.target_names))
    if names:
        shown = ", ".join(names[:12]) + (f", ... ({len(names) - 12} more)" if len(names) > 12 else "")
        click.echo(f"\nTargets ({len(names)}): {shown}")


@data.command("validate")
@panel_options
@handle_errors
def data_validate(**options) -> None:
    """Exit 0 if the data are valid (plausibility flags are printed as warnings), 1 otherwise."""
    panel = load_input(**options)
    for message in panel.plausibility["message"]:
        click.echo(f"warning: {message}", err=True)
    for report in panel.join_reports:
        click.echo(f"warning: {report.describe()}", err=True)
    click.echo(f"ok: {panel.n_models} models x {panel.n_benchmarks} benchmarks, {len(panel.families)} families")


# --------------------------------------------------------------------------- osl loglinear
# Needs osltools.capabilities (CapabilityPCA); imported when the command runs so that
# the other commands work without it.
@main.command("loglinear")
@panel_options
@click.option("--components", default="PC1", show_default=True, metavar="PC1,PC2",
              help="comma-separated principal capabilities to regress on log10 FLOPs")
@click.option("--k", "k", type=int, default=3, show_default=True, help="number of principal capabilities (PCA)")
@click.option("--min-models", type=int, default=3, show_default=True,
              help="families with fewer models with compute are left out")
@click.option("--cov-type", default="nonrobust", show_default=True, help="nonrobust or HC0..HC3 (where df allow)")
@click.option("--reference", metavar="FAMILY", help="family the efficiency offsets are measured from")
@handle_errors
def loglinear_command(components, k, min_models, cov_type, reference, **options) -> None:
    """Per-family log-linearity of principal capabilities in log10 FLOPs: per-family OLS, pooled tests, flagged models."""
    from .capabilities import CapabilityPCA
    from .loglinear import FamilyScaling

    panel = load_input(**options)
    names = [c.strip() for c in components.split(",") if c.strip()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OSLWarning)
        caps = CapabilityPCA(n_components=k).fit(panel)
        results = FamilyScaling.from_capabilities(
            caps, components=names, min_models=min_models, cov_type=cov_type, reference=reference
        ).fit()
    for message in dict.fromkeys(str(w.message).splitlines()[0] for w in caught if issubclass(w.category, OSLWarning)):
        click.echo(f"warning: {message}", err=True)
    click.echo(results.summary().as_text())


if __name__ == "__main__":  # pragma: no cover
    main()
