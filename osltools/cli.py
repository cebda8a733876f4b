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


if __name__ == "__main__":  # pragma: no cover
    main()


@main.command("pca")
@panel_options
@click.option("--k", "k", type=int, default=3, show_default=True, help="number of components kept")
@click.option("--standardize", is_flag=True, help="PCA of standardized columns (default: raw, as in the paper)")
@click.option("--bootstrap", "n_boot", type=int, default=0, show_default=True, help="bootstrap replicates for CIs")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the bootstrap and of the choice of K")
@click.option("--n-jobs", type=int, default=1, show_default=True, help="parallel workers for the bootstrap")
@handle_errors
def pca(k, standardize, n_boot, seed, n_jobs, **options) -> None:
    """Explained variance, the evidence for K, and what each component measures."""
    from .capabilities import CapabilityPCA
    from .dimension import select_n_components

    panel = load_input(**options)
    caps = CapabilityPCA(n_components=k, standardize=standardize).fit(panel)
    if n_boot:
        caps = caps.bootstrap(n_boot=n_boot, seed=seed, n_jobs=n_jobs)
    click.echo(caps.summary().as_text())
    click.echo("")
    click.echo(select_n_components(panel, standardize=standardize, seed=seed).summary().as_text())
