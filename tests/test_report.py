"""osl report: every file written, sections, tables = tidy outputs, atomic output, config precedence, CLI errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from osltools import report as report_pkg
from osltools.capabilities import CapabilityPCA
from osltools.cli import main
from osltools.exceptions import ConfigError
from osltools.interventions import compare_interventions
from osltools.loglinear import FamilyScaling
from osltools.report import InterventionSpec, ReportConfig, TargetSpec, build_report, load_config
from osltools.report import sections as report_sections
from osltools.report.output import MANIFEST
from osltools.validation import LawOptions, backtest, compute_split

BOOT = 10
# small simulated families: the expected warnings of the analyses are not what these tests are about
pytestmark = pytest.mark.filterwarnings("ignore::osltools.exceptions.SmallFamilyWarning")
TARGETS = (TargetSpec("emergent_task", label="emergent task", predictors=("pcs:2", "flops")),)


INTERVENTIONS = InterventionSpec("base_task", (("X", "intervention_task"),), loss="linear")


def small_config(**changes) -> ReportConfig:
    values = {"targets": TARGETS, "bootstrap": BOOT, "seed": 3, "reference_family": "Alfa",
              "interventions": INTERVENTIONS}
    return ReportConfig(**{**values, **changes})


@pytest.fixture(scope="module")
def built(sim, tmp_path_factory):
    panel, _ = sim
    out = tmp_path_factory.mktemp("report") / "out"
    build_report(out, panel=panel, config=small_config(), quiet=True)
    return out


def run_cli(*args):
    return CliRunner().invoke(main, ["report", *map(str, args)])


def _only_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if "osl-staging" in p.name]


# ---------------------------------------------------------------------------------------------- files and sections
def check_every_file_is_written(built):
    for name in ("report.html", "report.md", MANIFEST):
        assert (built / name).is_file()
    pngs = sorted(p.stem for p in (built / "figures").glob("*.png"))
    svgs = sorted(p.stem for p in (built / "figures").glob("*.svg"))
    assert pngs == svgs and len(pngs) >= 8
    manifest = json.loads((built / MANIFEST).read_text())
    on_disk = sorted(str(p.relative_to(built)) for p in built.rglob("*") if p.is_file() and p.name != MANIFEST)
    assert manifest["files"] == on_disk
    markdown = (built / "report.md").read_text()
    linked = set(re.findall(r"\]\((figures/[^)]+|tables/[^)]+)\)", markdown))
    assert linked and all((built / path).is_file() for path in linked)
    assert {f"figures/{stem}.png" for stem in pngs} <= linked


def check_html_is_self_contained(built):
    html = (built / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == len(list((built / "figures").glob("*.png")))
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'<(script|link)[^>]+(src|href)="http', html)


def check_sections_are_present(built):
    html, markdown = (built / "report.html").read_text(), (built / "report.md").read_text()
    for anchor, title in (("summary", "At a glance"), ("data", "Data and missingness"),
                          ("capabilities", "Capability space"), ("law-emergent_task", "Scaling law: emergent task"),
                          ("loglinearity", "Log-linearity in compute, per family"),
                          ("equivalent", "f-equivalent FLOPs"), ("interventions", "Post-training interventions"),
                          ("methods", "Methods and reproducibility")):
        assert f'<section id="{anchor}">' in html and f"## {title}" in markdown
    assert "DEMO" not in html  # only a demo says so
    assert "Seed: 3" in markdown and f"Bootstrap replicates: {BOOT}" in markdown
    assert "numpy" in markdown and "statsmodels" in markdown  # software versions


def check_tables_are_the_tidy_outputs(built, sim):
    panel, _ = sim
    caps = CapabilityPCA(n_components=3).fit(panel).bootstrap(n_boot=BOOT, seed=3)
    written = pd.read_csv(built / "tables" / "capabilities.csv", keep_default_na=False, na_values=[""])
    expected = caps.tidy()
    assert list(written.columns) == list(expected.columns)
    for column in ("estimate", "se", "lower", "upper"):
        np.testing.assert_allclose(written[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-9,
                                   atol=1e-12, equal_nan=True)
    bt = backtest(panel, ["emergent_task"], predictors=["pcs:3", "pcs:2", "flops"], split=compute_split(panel),
                  law=LawOptions(bounds="floor"))
    written = pd.read_csv(built / "tables" / "backtest_emergent_task.csv")
    expected = bt.tidy()
    keys = ["target", "predictor", "metric"]
    assert written[keys].to_numpy().tolist() == expected[keys].to_numpy().tolist()
    np.testing.assert_allclose(written["value"], expected["value"].astype(float), rtol=1e-9, atol=1e-12)
    gaps = compare_interventions(panel, base="base_task", interventions={"X": "intervention_task"}, n_components=3,
                                 reference_family="Alfa", law=LawOptions(bounds="floor"), n_boot=BOOT, seed=3)
    written = pd.read_csv(built / "tables" / "intervention_bands.csv")
    np.testing.assert_allclose(written["lower"], gaps.tidy()["lower"], rtol=1e-9, atol=1e-12)
    family = FamilyScaling.from_capabilities(caps, components=list(caps.components), reference="Alfa").fit()
    written = pd.read_csv(built / "tables" / "loglinear.csv")
    np.testing.assert_allclose(written["estimate"], family.tidy()["estimate"], rtol=1e-9, atol=1e-12)
    law = pd.read_csv(built / "tables" / "law_emergent_task.csv")
    np.testing.assert_allclose(law["estimate"], bt.fits[("emergent_task", "pcs:3")].tidy()["estimate"], rtol=1e-9,
                               atol=1e-12)


def test_report_contents(built, sim):
    """One report (built once: the checks share it, whichever test worker runs them)."""
    check_every_file_is_written(built)
    check_html_is_self_contained(built)
    check_sections_are_present(built)
    check_tables_are_the_tidy_outputs(built, sim)


def test_demo_says_so_at_the_top_and_reports_progress(tmp_path):
    result = run_cli("--demo", "--bootstrap", "0", "--target", "base_task", "--out", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "demo" / "report.html").read_text()
    assert html.index("DEMO: every number") < html.index("<nav>")
    assert (tmp_path / "demo" / "report.md").read_text().splitlines()[2].startswith("> DEMO")
    assert "[osl report" in result.stderr and "scaling law: base task" in result.stderr  # --quiet: see below


# ---------------------------------------------------------------------------------------------- atomic output
def _light_sections(ctx, **kwargs):
    """Only the data section: where the output goes does not depend on what the report says."""
    return [report_sections.data_section(ctx)]


def _failing_sections(ctx, **kwargs):
    report_sections.data_section(ctx)  # figures and tables are written into the staging folder ...
    assert any((ctx.writer.root / "figures").iterdir())
    raise RuntimeError("injected failure")  # ... and then the run fails


def test_failure_midway_leaves_no_folder(sim, tmp_path):
    panel, _ = sim
    with pytest.raises(RuntimeError, match="injected"):
        build_report(tmp_path / "out", panel=panel, config=small_config(), quiet=True, sections=_failing_sections)
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_failure_in_an_existing_folder_changes_nothing(sim, tmp_path):
    panel, _ = sim
    out = tmp_path / "out"
    build_report(out, panel=panel, config=small_config(), quiet=True, sections=_light_sections)
    (out / "notes.txt").write_text("mine")
    before = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError):
        build_report(out, panel=panel, config=small_config(), quiet=True, sections=_failing_sections)
    after = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before and _leftovers(tmp_path) == []


def test_existing_folder_keeps_unrelated_files(sim, tmp_path):
    panel, _ = sim
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    build_report(out, panel=panel, config=small_config(), quiet=True, sections=_light_sections)
    (out / "figures" / "old-figure.png").write_bytes(b"x")  # as if an earlier report had written it ...
    manifest = json.loads((out / MANIFEST).read_text())
    (out / MANIFEST).write_text(json.dumps({**manifest, "files": manifest["files"] + ["figures/old-figure.png"]}))
    build_report(out, panel=panel, config=small_config(), quiet=True, sections=_light_sections)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "figures" / "missingness.png").is_file() and (out / "report.html").is_file()
    assert not (out / "figures" / "old-figure.png").exists()  # ... the old report's files are replaced
    assert _leftovers(tmp_path) == []


def test_same_inputs_give_identical_files(sim, tmp_path):
    panel, _ = sim
    for name in ("a", "b"):
        build_report(tmp_path / name, panel=panel, config=small_config(), quiet=True, sections=_light_sections)
    files = sorted(str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert any(f.endswith(".svg") for f in files)
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_foreign_report_files_are_never_overwritten(sim, tmp_path):
    panel, _ = sim
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "precious.png").write_bytes(b"x")
    with pytest.raises(ConfigError, match="precious.png, not written by osl report"):
        build_report(out, panel=panel, config=small_config(), quiet=True)
    assert (out / "figures" / "precious.png").read_bytes() == b"x" and _leftovers(tmp_path) == []


def test_cli_failure_midway_exits_1_without_output(tmp_path, monkeypatch):
    def broken(ctx):
        raise ConfigError("injected: this section cannot be reported")

    monkeypatch.setattr("osltools.report.builder.capability_section", broken)
    result = run_cli("--demo", "--bootstrap", "0", "--out", tmp_path / "out", "--quiet")
    assert "injected" in _only_error_line(result)  # the only line on stderr: --quiet silenced the progress
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------- configuration
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "report.toml"
    path.write_text(text)
    return path


def test_config_file_is_read(tmp_path):
    path = write(tmp_path, """
title = "T"
targets_files = ["extra/targets.csv"]
join = ["obsscaling-emergent"]
k = "auto"
bootstrap = 7
cutoff = 1e23
bounds = "none"
targets = ["a", { name = "b", cutoff = 2e22, exclude_from_pca = ["GSM8K"], label = "B" }]
[interventions]
base = "a"
arms = { X = "b" }
""")
    config = load_config(path)
    assert config.k is None and config.bootstrap == 7 and config.title == "T"
    assert config.targets_files == (str(tmp_path / "extra" / "targets.csv"),)  # relative to the file
    assert config.join == ("obsscaling-emergent",)
    a, b = config.targets
    assert (a.name, a.cutoff, a.bounds) == ("a", 1e23, "none")
    assert (b.cutoff, b.exclude_from_pca, b.bounds, b.title) == (2e22, ("GSM8K",), "none", "B")
    assert config.interventions.arms == (("X", "b"),) and config.interventions.loss == "huber"
    assert load_config(write(tmp_path, config.as_toml())) == config  # the methods section's TOML reads back


def test_flags_override_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, 'bootstrap = 7\nseed = 3\nk = 2\ntargets = [{ name = "base_task", cutoff = 1e23 }]\n')
    seen = {}

    def capture(out, *, config, **kwargs):
        seen["config"] = config
        return Path(out)

    monkeypatch.setattr(report_pkg, "build_report", capture)
    result = run_cli("--demo", "--config", path, "--seed", "5", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert (config.seed, config.bootstrap, config.k) == (5, 7, 2)  # flag > file > demo defaults
    assert [t.name for t in config.targets] == ["base_task"] and config.targets[0].cutoff == 1e23
    assert config.reference_family is not None and config.interventions is not None  # the demo's, kept
    run_cli("--demo", "--config", path, "--bootstrap", "0", "--k", "auto", "--target", "emergent_task",
            "--out", tmp_path / "out")
    assert (seen["config"].bootstrap, seen["config"].k) == (0, None)
    assert [t.name for t in seen["config"].targets] == ["emergent_task"]


def _analysis(name: str):
    import importlib.util
    import sys

    folder = Path(__file__).resolve().parents[1] / "analyses"
    sys.path.insert(0, str(folder))  # analyses import each other by name
    try:
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def test_paper_config_has_the_public_backtest_settings():
    config = load_config(Path(__file__).resolve().parents[1] / "analyses" / "paper.toml")
    assert config.model_set == "main" and config.reference_family == "Llama-2" and config.k == 3
    targets = {t.name: t for t in config.targets}
    for setting in _analysis("backtest_public").SETTINGS:
        target = targets[setting.target]
        assert (target.cutoff, target.exclude_from_pca, target.bounds, target.loss) == \
            (setting.cutoff, setting.exclude_from_pca, setting.bounds, setting.loss), setting.label
        assert setting.dataset in config.join
    emergent = _analysis("emergent").config()
    assert [t.name for t in emergent.targets] == [s.target for s in _analysis("backtest_public").SETTINGS]
    interventions = _analysis("interventions_public").INTERVENTIONS
    assert dict(config.interventions.arms) == interventions and config.interventions.base == "gsm8k_5"
    assert (config.interventions.bounds, config.interventions.loss) == ("floor", "huber")
    assert _analysis("post_training").config().interventions == config.interventions


@pytest.mark.parametrize("text, message", [
    ('targets = ["no_such_target"]', "unknown target 'no_such_target'"),
    ('reference_family = "Nope"', "unknown family 'Nope'"),
    ("bootstrap = = 3", "malformed TOML"),
    ("colour = 3", "unknown key 'colour'"),
    ('k = 0', "k = 0 is not accepted"),
    ('targets = [{ name = "base_task", bounds = "upper" }]', "bounds = 'upper' is not accepted"),
    ('targets = [{ name = "base_task", exclude_from_pca = ["Chess"] }]', "unknown benchmark 'Chess'"),
    ('[interventions]\nbase = "base_task"\narms = { X = "missing_task" }', "unknown target 'missing_task'"),
])
def test_bad_config_is_one_error_line_and_no_output(tmp_path, text, message):
    path = write(tmp_path, text)
    result = run_cli("--demo", "--config", path, "--out", tmp_path / "out", "--quiet")
    line = _only_error_line(result)
    assert message in line and str(path) in line
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_missing_config_file(tmp_path):
    line = _only_error_line(run_cli("--demo", "--config", tmp_path / "nope.toml", "--out", tmp_path / "out"))
    assert "does not exist" in line and not (tmp_path / "out").exists()


def test_unwritable_output_folder(tmp_path):
    (tmp_path / "a-file").write_text("x")
    line = _only_error_line(run_cli("--demo", "--out", tmp_path / "a-file" / "report", "--quiet"))
    assert "is a file, not a folder" in line
    line = _only_error_line(run_cli("--demo", "--out", tmp_path / "a-file", "--quiet"))
    assert "is not a folder" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc (Linux)")
def test_output_on_a_read_only_file_system():
    line = _only_error_line(run_cli("--demo", "--out", "/proc/osl-report", "--quiet"))
    assert "cannot write the report to '/proc/osl-report'" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_in_a_read_only_folder(tmp_path):  # pragma: no cover - CI runs as root
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    line = _only_error_line(run_cli("--demo", "--out", locked / "out", "--quiet"))
    assert "is not writable" in line


def test_join_attaches_the_targets_of_public_datasets(public_data_dir):
    from osltools.report.builder import prepare_panel

    config = ReportConfig(dataset="obsscaling-base", model_set="main",
                          join=("obsscaling-emergent", "obsscaling-post-training"))
    panel = prepare_panel(None, config)
    assert panel.n_models == 77
    assert {"word_unscrambling_2_exact_match", "gsm8k_cot", "gsm8k_5"} <= set(panel.target_names)
    assert {Path(f).name for f in panel.sources} == {"base_llm_benchmark_eval.csv",
                                                      "base_llm_emergent_capability_eval.csv",
                                                      "base_llm_post_training_eval.csv"}
    with pytest.raises(ConfigError, match="has no targets to attach"):
        prepare_panel(None, ReportConfig(dataset="obsscaling-base", join=("obsscaling-base-sub10b",)))


def test_paths_give_the_scores_and_the_targets(sim, tmp_path, monkeypatch):
    panel, _ = sim
    long = panel.scores.stack().rename("score").rename_axis(["model", "benchmark"]).reset_index()
    long.to_csv(tmp_path / "scores.csv", index=False)
    panel.meta[["family", "params_b", "tokens_t"]].rename_axis("model").to_csv(tmp_path / "meta.csv")
    panel.targets[["emergent_task"]].rename_axis("model").to_csv(tmp_path / "targets.csv")
    seen = {}

    def capture(ctx, **kwargs):
        seen["panel"], seen["config"] = ctx.panel, ctx.config
        return _light_sections(ctx)

    monkeypatch.setattr("osltools.report.builder._sections", capture)
    result = run_cli(tmp_path / "scores.csv", tmp_path / "targets.csv", "--meta", tmp_path / "meta.csv",
                     "--target", "emergent_task", "--reference-family", "Alfa", "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    read = seen["panel"]
    assert read.n_models == panel.n_models and list(read.target_names) == ["emergent_task"]
    np.testing.assert_allclose(read.targets["emergent_task"].reindex(panel.models),
                               panel.targets["emergent_task"], rtol=0, atol=1e-12)
    assert [t.name for t in seen["config"].targets] == ["emergent_task"]
    assert str(tmp_path / "targets.csv") in read.sources
    assert (tmp_path / "out" / "report.md").is_file()


def test_no_data_is_a_usage_error(tmp_path):
    result = run_cli("--out", tmp_path / "out")
    line = _only_error_line(result)
    assert "no data" in line
    result = run_cli("--demo", "--dataset", "obsscaling-base", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "one source of data" in result.output
