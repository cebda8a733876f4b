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
from .exceptions import DataValidationError, FitError, OSLError, OSLWarning
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


# --------------------------------------------------------------------------- osl fit
# Imports osltools.validation (PCA, law, equivalent FLOPs) when the command runs, so `osl data` stays light.
@main.command("fit")
@click.argument("target")
@panel_options
@click.option("--predictors", "predictor", default="pcs:3", show_default=True, metavar="SPEC",
              help="the law's predictors: pcs:K (K principal capabilities), flops (log10 FLOPs) or size (log10 params)")
@click.option("--cutoff", type=float, default=8.4e22, show_default=True,
              help="training FLOPs cutoff: models at or below it train the law, the rest test it")
@click.option("--exclude-from-pca", multiple=True, metavar="BENCHMARK", help="benchmark left out of the PCA inputs")
@click.option("--bounds", type=click.Choice(["floor", "ceiling", "none"]), default="floor", show_default=True,
              help="floor in [0, 0.2] with ceiling 1 (the paper's code), ceiling in [0.8, 1] with floor 0, or 0 and 1")
@click.option("--loss", type=click.Choice(["linear", "huber"]), default="linear", show_default=True)
@click.option("--reference-family", metavar="FAMILY", help="family of the equivalent-FLOPs axis (default: the "
              "dataset's, Llama-2 for base models)")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="1 - level of the intervals")
@handle_errors
def fit_command(target, predictor, cutoff, exclude_from_pca, bounds, loss, reference_family, alpha, **options) -> None:
    """Fit a sigmoid law for TARGET on models below a compute cutoff, test it on the rest against compute baselines,
    and map every model to equivalent FLOPs."""
    from .validation import LawOptions, backtest, compute_split

    panel = load_input(**options)
    reference = reference_family or (datasets.reference_family(options["dataset"]) if options["dataset"] else "Llama-2")
    predictors = list(dict.fromkeys([predictor, "flops", "size"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OSLWarning)
        results = backtest(panel, [target], predictors=predictors, split=compute_split(panel, cutoff),
                           exclude_from_pca=exclude_from_pca, law=LawOptions(bounds=bounds, loss=loss), alpha=alpha)
        fit = results.fits.get((target, predictor))
        equivalent = fit.equivalent_flops(reference_family=reference, alpha=alpha) if fit and predictor != "flops" \
            else None
    for message in dict.fromkeys(str(w.message).splitlines()[0] for w in caught if issubclass(w.category, OSLWarning)):
        click.echo(f"warning: {message}", err=True)
    if fit is not None:
        click.echo(fit.summary(alpha).as_text())
        click.echo("")
    click.echo(results.summary().as_text())
    if fit is None:
        message = results.table.at[(target, predictor), "message"]
        raise FitError(f"the law {target} ~ {predictor} could not be fitted: {message}")
    click.echo("")
    if equivalent is None:
        click.echo("Equivalent FLOPs: the law is on log10 FLOPs itself, so every model's equivalent FLOPs are its own.")
    else:
        click.echo(equivalent.summary(alpha).as_text())




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


# --------------------------------------------------------------------------- osl interventions
def _parse_interventions(items: tuple[str, ...]) -> dict[str, str]:
    interventions = {}
    for item in items:
        label, sep, column = item.partition("=")
        if not sep or not label or not column:
            raise click.BadParameter(f"{item!r} is not LABEL=COLUMN (e.g. CoT=gsm8k_cot)", param_hint="--intervention")
        if label in interventions:
            raise click.BadParameter(f"label {label!r} is given twice", param_hint="--intervention")
        interventions[label] = column
    return interventions


@main.command("interventions")
@panel_options
@click.option("--base", required=True, metavar="COLUMN", help="target column of the metric without intervention")
@click.option("--intervention", "interventions", multiple=True, required=True, metavar="LABEL=COLUMN",
              help="an intervention's label and target column (repeat for several)")
@click.option("--bootstrap", "n_boot", type=int, default=1000, show_default=True, help="bootstrap replicates")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the bootstrap")
@click.option("--n-jobs", type=int, default=1, show_default=True, help="parallel workers for the bootstrap")
@click.option("--scheduler", metavar="ADDRESS", help="run the bootstrap on this Dask scheduler (tcp://HOST:PORT)")
@click.option("--reference-family", metavar="FAMILY", help="family of the equivalent-FLOPs axis (default: the "
              "dataset's, Llama-2 for base models)")
@click.option("--reference-resampling", type=click.Choice(["within", "pooled", "fixed"]), default="within",
              show_default=True, help="how the reference family's models enter the bootstrap replicates")
@click.option("--k", "n_components", type=int, default=3, show_default=True, help="principal capabilities")
@click.option("--bounds", type=click.Choice(["floor", "ceiling", "none"]), default="floor", show_default=True,
              help="floor in [0, 0.2] with ceiling 1 (the paper's code), ceiling in [0.8, 1] with floor 0, or 0 and 1")
@click.option("--loss", type=click.Choice(["linear", "huber"]), default="huber", show_default=True)
@click.option("--alpha", type=float, default=0.05, show_default=True, help="1 - level of the bands and intervals")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="write the curves and gaps (tidy) here")
@handle_errors
def interventions_command(base, interventions, n_boot, seed, n_jobs, scheduler, reference_family,
                          reference_resampling, n_components, bounds, loss, alpha, csv_path, **options) -> None:
    """Gap curves of post-training interventions (each minus BASE, and between interventions) over
    reference-family-equivalent FLOPs, with pointwise and simultaneous bootstrap bands and tests."""
    from .interventions import compare_interventions
    from .validation import LawOptions

    panel = load_input(**options)
    reference = reference_family or (datasets.reference_family(options["dataset"]) if options["dataset"] else "Llama-2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OSLWarning)
        results = compare_interventions(
            panel, base=base, interventions=_parse_interventions(interventions), n_components=n_components,
            reference_family=reference, law=LawOptions(bounds=bounds, loss=loss), n_boot=n_boot, seed=seed,
            alpha=alpha, n_jobs=n_jobs, backend="dask" if scheduler else "loky", scheduler=scheduler,
            reference_resampling=reference_resampling)
    for message in dict.fromkeys(str(w.message).splitlines()[0] for w in caught if issubclass(w.category, OSLWarning)):
        click.echo(f"warning: {message}", err=True)
    click.echo(results.summary().as_text())
    if csv_path is not None:
        results.tidy().to_csv(csv_path, index=False)
        click.echo(f"\ncurves and gaps written to {csv_path}")


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


# --------------------------------------------------------------------------- osl report
# Imports osltools.report (and matplotlib) when the command runs, so the other commands stay light.
@main.command("report")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH ...]")
@click.option("--dataset", metavar="NAME", help=f"public dataset: {', '.join(datasets.DATASETS)}")
@click.option("--demo", is_flag=True, help="a report on the built-in simulated panel (says so at its top)")
@click.option("--config", "config_path", type=click.Path(path_type=Path), metavar="FILE",
              help="TOML file naming targets, interventions, cutoffs, reference family, K, bootstrap size")
@click.option("--out", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help="report folder (created; in an existing folder only the report's own files are replaced)")
@click.option("--target", "targets", multiple=True, metavar="NAME", help="target to report (repeat; replaces the "
              "config's list, keeping its per-target settings)")
@click.option("--model-set", metavar="SET", help=f"named model set of the dataset: {', '.join(datasets.MODEL_SETS)}")
@click.option("--reference-family", metavar="FAMILY", help="family of the f-equivalent FLOPs axis")
@click.option("--k", "k", metavar="K", help="components kept (an integer, or auto)")
@click.option("--seed", type=int, help="seed of every random step (default 0)")
@click.option("--bootstrap", "bootstrap", type=click.IntRange(min=0), metavar="B",
              help="bootstrap replicates (default 200; 50 for --demo; 0 for none)")
@click.option("--n-jobs", type=click.IntRange(min=1), help="parallel workers for the bootstrap")
@click.option("--data-dir", type=click.Path(path_type=Path), help="folder holding the public files")
@click.option("--scale", type=float, default=1.0, show_default=True, help="divide PATH's scores by this")
@click.option("--meta", type=click.Path(path_type=Path), help="metadata CSV joined by model")
@click.option("--metric", "metrics", multiple=True, metavar="TASK=METRIC", help="lm-eval metric per task")
@click.option("--quiet", is_flag=True, help="no progress lines on stderr")
@handle_errors
def report_command(paths, dataset, demo, config_path, out, targets, model_set, reference_family, k, seed, bootstrap,
                   n_jobs, data_dir, scale, meta, metrics, quiet) -> None:
    """Write a complete report (report.html, report.md, figures/, tables/) to DIR.

    Data: PATH (benchmark scores: wide CSV, long CSV or lm-eval folder; further
    PATHs are target CSVs joined by model), --dataset NAME, --demo, or
    dataset = "..." in the config. Flags override the config file.
    """
    from .report import ReportConfig, build_report, config_for, demo_inputs, load_config

    if sum([bool(paths), dataset is not None, demo]) > 1:
        raise click.UsageError("give one source of data: PATH ..., --dataset NAME or --demo")
    panel, demo_info, base = None, None, ReportConfig()
    if demo:
        panel, base, demo_info = demo_inputs(seed=seed or 0)
    config = load_config(config_path, start=base) if config_path is not None else base  # the file's keys win
    if paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OSLWarning)
            panel = read_panel(paths[0], scale=scale, meta=meta, metrics=_parse_metrics(metrics), warn=False)
        config = config.override(targets_files=config.targets_files + tuple(map(str, paths[1:])))
    config = config_for(config, targets=list(targets) or None, dataset=dataset, model_set=model_set,
                        reference_family=reference_family, k=k if k is None or k == "auto" else _int_option(k, "--k"),
                        seed=seed, bootstrap=bootstrap, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)  # the report lists them in the sections they concern
        path = build_report(out, panel=panel, config=config, demo=demo_info, quiet=quiet, data_dir=data_dir,
                            command=_report_command(paths, dataset, demo, config_path, out, config))
    click.echo(f"report written to {path / 'report.html'} and {path / 'report.md'}")


def _int_option(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an integer or 'auto'", param_hint=name) from None


def _report_command(paths, dataset, demo, config_path, out, config) -> str:
    parts = ["osl", "report", *map(str, paths)]
    parts += ["--demo"] if demo else []
    parts += ["--dataset", dataset] if dataset else []
    parts += ["--config", str(config_path)] if config_path else []
    parts += ["--seed", str(config.seed), "--bootstrap", str(config.bootstrap), "--out", str(out)]
    return " ".join(parts)


if __name__ == "__main__":  # pragma: no cover
    main()
