from click.testing import CliRunner

from osltools.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_data_info_dataset(public_data_dir):
    result = run("data", "info", "--dataset", "obsscaling-base")
    assert result.exit_code == 0, result.output
    assert "Models:" in result.output and "148" in result.output
    assert "HumanEval" in result.output and "cerebras/btlm-3b-8k-base" in result.output


def test_data_info_model_set(public_data_dir):
    result = run("data", "info", "--dataset", "obsscaling-base", "--model-set", "main")
    assert result.exit_code == 0 and "77" in result.output


def test_validate_ok_and_warnings(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("Model,Model Family,Model Size (B),Pretraining Data Size (T),MMLU\na,F,3,627,0.3\nb,F,7,2,0.5\n")
    result = run("data", "validate", str(path))
    assert result.exit_code == 0
    assert "ok: 2 models" in result.output and "tokens per parameter" in result.output


def test_validate_errors_one_line_each_no_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Model,MMLU,ARC\na,0.3,0.4\nb,87,x\nc,,\n")
    result = run("data", "validate", str(path))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line]
    assert all(line.startswith("error: ") for line in lines)
    assert len(lines) == 3
    assert "Traceback" not in result.output
    assert any("'b', benchmark 'MMLU': score 87 is outside [0, 1]" in line for line in lines)


def test_usage_errors():
    assert run("data", "info").exit_code == 2
    result = run("data", "info", "--dataset", "nope")
    assert result.exit_code == 1 and "unknown dataset 'nope'" in result.output
    result = run("data", "info", "/no/such/file.csv")
    assert result.exit_code == 1 and "no such file" in result.output
