"""Shared fixtures: the public data folder (through the loader), simulated panels."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from osltools import datasets
from osltools.exceptions import DatasetError, OSLWarning

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = REPO.parent / "shared" / "data" / "obsscaling"
if not os.environ.get("OSLTOOLS_DATA_DIR") and _DEFAULT_DATA.is_dir():
    os.environ["OSLTOOLS_DATA_DIR"] = str(_DEFAULT_DATA)


def _public_data_dir() -> Path | None:
    """The folder of the paper's files: OSLTOOLS_DATA_DIR, else the loader's cache (downloading, verified)."""
    folder = os.environ.get("OSLTOOLS_DATA_DIR")
    if folder and (Path(folder) / "base_llm_benchmark_eval.csv").is_file():
        return Path(folder)
    try:
        paths = [datasets.fetch(name) for name in datasets.FILES]
    except DatasetError:
        return None
    os.environ["OSLTOOLS_DATA_DIR"] = str(paths[0].parent)
    return paths[0].parent


@pytest.fixture(scope="session")
def public_data_dir() -> Path:
    folder = _public_data_dir()
    if folder is None:
        pytest.skip("public data not available offline: set OSLTOOLS_DATA_DIR to the folder of the paper's CSV files")
    return folder


def load_quietly(name: str, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        return datasets.load_panel(name, **kwargs)


@pytest.fixture(scope="session")
def base_panel(public_data_dir):
    return load_quietly("obsscaling-base")


@pytest.fixture(scope="session")
def main_panel(public_data_dir):
    return load_quietly("obsscaling-base", model_set="main")


@pytest.fixture(scope="session")
def sim():
    return datasets.simulate_panel(seed=11)
