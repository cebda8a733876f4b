import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osltools.exceptions import ConfigError, DataError, DataValidationError, PlausibilityWarning
from osltools.readers import (
    file_sha256,
    read_lm_eval,
    read_long_csv,
    read_meta_csv,
    read_panel,
    read_targets_csv,
    read_wide_csv,
)

WIDE = """Model,Model Family,Model Size (B),Pretraining Data Size (T),FLOPs (1E21),MMLU,ARC-C
org/a-1b,Fam,1.0,0.3,1.8,0.26,0.30
org/a-7b,Fam,7.0,2.0,,0.45,0.50
other/b-3b,Other,3.0,,,0.40,
other/b-9b,Other,9.0,,,0.55,0.60
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_wide_csv_paper_layout(tmp_path):
    path = write(tmp_path / "wide.csv", WIDE)
    before = file_sha256(path)
    panel = read_wide_csv(path)
    assert file_sha256(path) == before  # never modified
    assert list(panel.benchmarks) == ["MMLU", "ARC-C"] and panel.n_models == 4
    meta = panel.meta
    assert meta.at["org/a-1b", "flops"] == pytest.approx(1.8e21, rel=1e-12)
    assert meta.at["org/a-1b", "flops_source"] == "reported"
    assert meta.at["org/a-7b", "flops"] == pytest.approx(6 * 7e9 * 2e12, rel=1e-12)
    assert meta.at["org/a-7b", "flops_source"] == "6ND"
    assert meta.at["other/b-3b", "flops_source"] == "missing"
    assert np.isnan(panel.scores.at["other/b-3b", "ARC-C"])
    assert str(path) in panel.sources


def test_wide_csv_with_targets_and_separate_meta(tmp_path):
    scores = write(tmp_path / "s.csv", "model,MMLU,ARC-C,Elo\nm1,0.3,0.4,0.5\nm2,0.5,0.6,0.7\nm3,0.6,0.7,\n")
    meta = write(tmp_path / "m.csv", "model,family,params_b,tokens_t\nm1,F,1,1\nm2,F,7,2\nm3,G,70,2\nm4,G,1,1\n")
    panel = read_wide_csv(scores, meta=meta, targets=["Elo"], warn=False)
    assert list(panel.benchmarks) == ["MMLU", "ARC-C"] and list(panel.target_names) == ["Elo"]
    assert panel.meta.at["m3", "params_b"] == 70
    (report,) = panel.join_reports
    assert report.only_in_other == ("m4",)
    with pytest.raises(ConfigError, match="'Nope'"):
        read_wide_csv(scores, targets=["Nope"])


def test_wide_csv_meta_given_twice_is_an_error(tmp_path):
    path = write(tmp_path / "wide.csv", WIDE)
    meta = write(tmp_path / "m.csv", "Model,Model Family\norg/a-1b,X\n")
    with pytest.raises(DataError, match=r"\['family'\] are given both"):
        read_wide_csv(path, meta=meta)


def test_wide_csv_errors_name_the_cell(tmp_path):
    path = write(tmp_path / "bad.csv", "Model,MMLU\norg/a,0.3\norg/b,eighty\norg/a,0.5\n")
    with pytest.raises(DataValidationError) as info:
        read_wide_csv(path)
    text = str(info.value)
    assert "'org/b', benchmark 'MMLU': value 'eighty' is not a number" in text
    assert "'org/a' appears more than once" in text
    with pytest.raises(DataError, match="no model column"):
        read_wide_csv(write(tmp_path / "nomodel.csv", "name,MMLU\na,0.3\n"))
    with pytest.raises(DataError, match="no such file"):
        read_wide_csv(tmp_path / "absent.csv")


def test_percent_scale(tmp_path):
    path = write(tmp_path / "pct.csv", "Model,MMLU\na,30\nb,60\n")
    with pytest.raises(DataValidationError, match="scale=100"):
        read_wide_csv(path)
    np.testing.assert_allclose(read_wide_csv(path, scale=100, warn=False).scores["MMLU"], [0.3, 0.6], rtol=1e-12)


def test_long_csv(tmp_path):
    text = (
        "model,benchmark,score,stderr,family,params_b\n"
        "a,MMLU,0.30,0.01,F,1\n"
        "a,ARC,0.40,0.02,F,1\n"
        "b,MMLU,0.50,0.01,F,7\n"
        "b,ARC,0.60,,F,7\n"
        "c,MMLU,0.70,0.01,G,70\n"
    )
    path = write(tmp_path / "long.csv", text)
    panel = read_long_csv(path, warn=False)
    assert list(panel.models) == ["a", "b", "c"] and list(panel.benchmarks) == ["MMLU", "ARC"]
    assert panel.scores.at["b", "ARC"] == 0.6 and np.isnan(panel.scores.at["c", "ARC"])
    assert panel.stderr.at["a", "ARC"] == 0.02 and np.isnan(panel.stderr.at["b", "ARC"])
    assert panel.meta.at["c", "params_b"] == 70 and panel.meta.at["a", "family"] == "F"
    assert read_panel(path, warn=False).shape == (3, 2)


def test_long_csv_duplicates_and_inconsistent_meta(tmp_path):
    dup = write(tmp_path / "dup.csv", "model,benchmark,score\na,MMLU,0.3\na,MMLU,0.4\n")
    with pytest.raises(DataValidationError, match="'a', benchmark 'MMLU' appears on more than one row"):
        read_long_csv(dup)
    inconsistent = write(tmp_path / "inc.csv", "model,benchmark,score,params_b\na,MMLU,0.3,1\na,ARC,0.4,2\n")
    with pytest.raises(DataValidationError, match="'a' has different 'params_b' values"):
        read_long_csv(inconsistent)
    with pytest.raises(DataError, match=r"missing columns \['score'\]"):
        read_long_csv(write(tmp_path / "x.csv", "model,benchmark,value\na,b,0.1\n"))


def _lm_eval_result(tmp_path, folder, stamp, results):
    path = tmp_path / "out" / folder / f"results_{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"results": results, "config": {"model": "hf"}}))
    return path


def test_lm_eval_directory(tmp_path):
    old = {"arc_challenge": {"acc,none": 0.1, "acc_norm,none": 0.11, "acc_norm_stderr,none": 0.01}}
    new = {
        "arc_challenge": {"alias": "arc", "acc,none": 0.4, "acc_stderr,none": 0.014, "acc_norm,none": 0.45,
                          "acc_norm_stderr,none": 0.015},
        "gsm8k": {"exact_match,strict-match": 0.2, "exact_match_stderr,strict-match": "N/A",
                  "exact_match,flexible-extract": 0.25, "exact_match_stderr,flexible-extract": 0.01},
    }
    _lm_eval_result(tmp_path, "org__model-7b", "2024-01-01T10-00-00.000001", old)
    newest = _lm_eval_result(tmp_path, "org__model-7b", "2024-03-05T09-30-00.123456", new)
    _lm_eval_result(tmp_path, "other__small", "2024-02-01T00-00-00.000000",
                    {"arc_challenge": {"acc_norm,none": 0.3, "acc_norm_stderr,none": 0.02}})
    before = file_sha256(newest)
    metrics = {"arc_challenge": "acc_norm,none", "gsm8k": "exact_match,strict-match"}
    meta = pd.DataFrame({"family": ["Org", "Other"], "params_b": [7.0, 0.5]}, index=["org/model-7b", "other/small"])
    panel = read_lm_eval(tmp_path / "out", metrics=metrics, meta=meta, warn=False)
    assert file_sha256(newest) == before
    assert list(panel.benchmarks) == ["arc_challenge", "gsm8k"]
    assert panel.scores.at["org/model-7b", "arc_challenge"] == 0.45  # newest file wins
    assert panel.stderr.at["org/model-7b", "arc_challenge"] == 0.015
    assert panel.scores.at["org/model-7b", "gsm8k"] == 0.2
    assert np.isnan(panel.stderr.at["org/model-7b", "gsm8k"])  # "N/A"
    assert np.isnan(panel.scores.at["other/small", "gsm8k"])  # task not run
    assert panel.meta.at["other/small", "family"] == "Other"
    # a metric without a filter means ",none"
    short = read_lm_eval(tmp_path / "out", metrics={"arc_challenge": "acc_norm"}, warn=False)
    assert short.scores.at["other/small", "arc_challenge"] == 0.3
    with pytest.raises(DataError, match="'org/model-7b', task 'gsm8k': metric 'acc,none' not in"):
        read_lm_eval(tmp_path / "out", metrics={"gsm8k": "acc,none"})
    with pytest.raises(ConfigError, match="say which metric"):
        read_panel(tmp_path / "out")


def test_meta_and_targets_csv(tmp_path):
    meta = read_meta_csv(write(tmp_path / "m.csv", "Model,Model Size (B),FLOPs (1E21)\na,7,84\n"))
    assert meta.at["a", "flops"] == pytest.approx(8.4e22, rel=1e-12)
    targets = read_targets_csv(write(tmp_path / "t.csv", "Model,task1,task2\na,0.1,0.2\n"), columns=["task2"])
    assert list(targets.columns) == ["task2"]
    with pytest.raises(DataError, match="no metadata column"):
        read_meta_csv(write(tmp_path / "n.csv", "Model,xyz\na,1\n"))


def test_reader_warns_plausibility(tmp_path):
    path = write(tmp_path / "w.csv", "Model,Model Family,Model Size (B),Pretraining Data Size (T),MMLU\n"
                                     "a,F,3,627,0.3\nb,F,7,2,0.5\n")
    with pytest.warns(PlausibilityWarning, match="tokens per parameter"):
        read_wide_csv(path)
