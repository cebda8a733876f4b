import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from osltools import datasets
from osltools.exceptions import ChecksumError, ConfigError, DatasetNotAvailableError
from tests.conftest import load_quietly

NAME = "base_llm_emergent_capability_eval.csv"


def test_base_panel_counts(base_panel):
    assert base_panel.n_models == 148
    assert len(base_panel.families) == 47
    assert base_panel.n_benchmarks == 8


def test_main_model_set(main_panel):
    assert main_panel.n_models == 77
    assert len(main_panel.families) == 21
    assert not set(main_panel.models) & set(datasets.PREREGISTERED)


def test_plausibility_flags_on_public_metadata(base_panel):
    flags = base_panel.plausibility
    tpp = flags[flags["check"] == "tokens_per_param"]
    assert list(tpp["model"]) == ["cerebras/btlm-3b-8k-base"]  # 627T tokens: a unit slip for 0.627T
    assert (flags["check"] == "single_model_family").sum() == 8


def test_targets_attached_with_declared_scales(public_data_dir):
    emergent = load_quietly("obsscaling-emergent")
    assert "word_unscrambling_2_exact_match" in emergent.target_names
    assert emergent.targets["ipa_transliterate_2_bleu"].max() <= 1.0  # BLEU rescaled from 0-100
    post = load_quietly("obsscaling-post-training", model_set="main")
    assert {"gsm8k_5", "gsm8k_cot", "gsm8k_cot_sc"} <= set(post.target_names)
    assert post.targets["gsm8k_cot"].notna().sum() == 75  # 2 of the 77 have no CoT run
    agent = load_quietly("obsscaling-agent")
    assert agent.n_models == 27 and "Arena-Elo" in agent.target_names and "Arena-Elo" not in agent.benchmarks
    assert agent.targets["ABoard-Avg_PR"].max() <= 1.0 and agent.targets["ABench-OA"].max() > 1.0
    assert str(public_data_dir / NAME) in emergent.sources


def test_unknown_names():
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        datasets.load_panel("nope")
    with pytest.raises(ConfigError, match="unknown data file"):
        datasets.fetch("nope.csv")


def test_local_copy_with_wrong_checksum_is_refused(tmp_path, public_data_dir):
    (tmp_path / NAME).write_bytes((public_data_dir / NAME).read_bytes() + b"\n")
    with pytest.raises(ChecksumError, match="differs from the pinned"):
        datasets.fetch(NAME, data_dir=tmp_path)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def http_root(tmp_path, public_data_dir):
    """A real HTTP server on 127.0.0.1 serving good/<file> and bad/<file> (one byte changed)."""
    root = tmp_path / "www"
    (root / "good").mkdir(parents=True)
    (root / "bad").mkdir()
    shutil.copy(public_data_dir / NAME, root / "good" / NAME)
    data = bytearray((public_data_dir / NAME).read_bytes())
    data[100] ^= 1
    (root / "bad" / NAME).write_bytes(bytes(data))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("OSLTOOLS_CACHE_DIR", str(cache))
    monkeypatch.delenv("OSLTOOLS_DATA_DIR", raising=False)
    monkeypatch.delenv("OSLTOOLS_OFFLINE", raising=False)
    return cache


def test_download_verifies_and_caches(http_root, empty_cache):
    path = datasets.fetch(NAME, base_url=f"{http_root}/good")
    assert path == empty_cache / NAME
    assert hashlib.sha256(path.read_bytes()).hexdigest() == datasets.FILES[NAME]
    # second call is served from the cache, even with no server
    assert datasets.fetch(NAME, base_url="http://127.0.0.1:9") == path


def test_corrupted_download_raises_and_caches_nothing(http_root, empty_cache):
    with pytest.raises(ChecksumError, match="does not match the pinned sha256"):
        datasets.fetch(NAME, base_url=f"{http_root}/bad")
    assert not empty_cache.exists() or not any(empty_cache.iterdir())


def test_offline_says_which_file_to_put_where(empty_cache):
    with pytest.raises(DatasetNotAvailableError) as info:
        datasets.fetch(NAME, base_url="http://127.0.0.1:9")  # nothing listens on the discard port
    message = str(info.value)
    assert NAME in message and str(empty_cache) in message and "OSLTOOLS_DATA_DIR" in message
    assert not (empty_cache / NAME).exists()


def test_offline_flag_forbids_download(empty_cache, monkeypatch, http_root):
    monkeypatch.setenv("OSLTOOLS_OFFLINE", "1")
    with pytest.raises(DatasetNotAvailableError, match="OSLTOOLS_OFFLINE"):
        datasets.fetch(NAME, base_url=f"{http_root}/good")


def test_resolution_order(tmp_path, public_data_dir, monkeypatch, empty_cache):
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    shutil.copy(public_data_dir / NAME, explicit / NAME)
    monkeypatch.setenv("OSLTOOLS_DATA_DIR", str(public_data_dir))
    assert datasets.fetch(NAME, data_dir=explicit) == explicit / NAME
    assert datasets.fetch(NAME) == public_data_dir / NAME
    assert datasets.fetch(NAME, data_dir=tmp_path / "elsewhere") == public_data_dir / NAME


def test_list_datasets():
    table = datasets.list_datasets()
    assert "obsscaling-base" in table.index and table.loc["obsscaling-agent", "reference_family"] == "Llama-2-Chat"
