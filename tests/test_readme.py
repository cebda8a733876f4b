"""The README is the front door: its test command is what CI runs."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Set-up and the two commands.*?```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_has_two_commands_and_ci_runs_the_test_command():
    main_job, tests = readme_commands()
    assert "pip install -e" in main_job and "osl " in main_job
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert tests in ci, f"{tests!r} is not a line of .ci/run"


def test_readme_python_walkthrough_runs(public_data_dir, capsys):
    """The README's step-by-step example runs as written (bootstrap sizes cut down for speed)."""
    text = (REPO / "README.md").read_text()
    code = re.search(r"## The method, step by step\n\n```python\n(.*?)```", text, re.S).group(1)
    code = code.replace("n_boot=1000, seed=0", "n_boot=20, seed=0").replace("n_boot=1000, n_jobs=2", "n_boot=20, n_jobs=1")
    assert code.count("n_boot=20") == 2
    namespace: dict = {}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["caps"].replicates.n_requested == 20
    assert "pcs:3" in set(namespace["bt"].table.index.get_level_values(-1))
