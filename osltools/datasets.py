"""The paper's public evaluation results: registry, checksums, cache and loaders.

Files are looked up in this order:

1. the ``data_dir=`` argument;
2. the folder named by the ``OSLTOOLS_DATA_DIR`` environment variable;
3. the per-user cache (``OSLTOOLS_CACHE_DIR``, default ``~/.cache/osltools``);
4. a download from the pinned upstream commit, verified against its sha256
   (``OSLTOOLS_BASE_URL`` overrides the address, ``OSLTOOLS_OFFLINE=1``
   forbids downloading).

A file whose sha256 differs from the pinned one is never used: a
:class:`~osltools.exceptions.ChecksumError` is raised and nothing is left in
the cache. Data: Ruan, Maddison & Hashimoto (2024), github.com/ryoungj/ObsScaling,
Apache-2.0.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pooch
import requests

from .data import Panel
from .exceptions import ChecksumError, ConfigError, DatasetNotAvailableError
from .readers import file_sha256, read_targets_csv, read_wide_csv
from .simulate import SimulatedPanel, simulate_panel

COMMIT = "4d6e1e43fd2635d04654aa77d1df9d5266ea0382"
BASE_URL = f"https://raw.githubusercontent.com/ryoungj/ObsScaling/{COMMIT}/eval_results/"
CITATION = (
    "Ruan, Maddison & Hashimoto (2024), Observational Scaling Laws and the Predictability of "
    "Language Model Performance, arXiv 2405.10938; data: github.com/ryoungj/ObsScaling (Apache-2.0)"
)

#: file name -> sha256 of the pinned upstream version.
FILES: dict[str, str] = {
    "base_llm_benchmark_eval.csv": "511996815735a4c46251dc585dcc525e370d148201f86561e6f927f9df2d0db8",
    "base_llm_benchmark_eval_sub_10b.csv": "6a5fe6143b1fd86c2c10368de05e204c89ab6652b0f7e97c4965c37bff360d1d",
    "base_llm_emergent_capability_eval.csv": "a156beee73c39b7833c3c53535c473939105512d85e90b0143be7325e516ef7c",
    "base_llm_post_training_eval.csv": "797e7e50c6ac54960e28447884b78bf9821b297646741b4485152715fe7fdbe5",
    "instruct_llm_benchmark_eval.csv": "9bc50f327f4e436b15a6d6e3edb8b4837e726b295a1c72d44fadb9c9d25a75ba",
    "instruct_llm_agent_eval.csv": "09abcdc2abb80d3bba2217b526fa0d88e480a8236c3ba3193bcc9928e871ba3d",
}

MAIN_FAMILIES = (
    "BLOOM", "CodeLlama", "DeepSeek-Coder", "Falcon", "GPT-Neo/J", "Gemma", "Llama", "Llama-2", "Llama-3", "MPT",
    "Mistral", "Mixtral", "OPT", "Phi", "Pythia", "Qwen", "Qwen1.5", "StarCoder", "StarCoder2", "XGLM", "Yi",
)
PREREGISTERED = (
    "meta-llama/Meta-Llama-3.1-405B-FP8", "meta-llama/Meta-Llama-3.1-70B", "meta-llama/Meta-Llama-3.1-8B",
    "Qwen/Qwen1.5-110B", "Qwen/Qwen2-72B", "Qwen/Qwen2-57B-A14B", "Qwen/Qwen2-7B", "Qwen/Qwen2-1.5B",
    "Qwen/Qwen2-0.5B", "deepseek-ai/DeepSeek-V2", "deepseek-ai/DeepSeek-Coder-V2-Base", "google/gemma-2-27b",
    "google/gemma-2-9b", "google/gemma-2-2b", "mistralai/Mixtral-8x22B-v0.1", "mistralai/Mistral-Nemo-Base-2407",
    "01-ai/Yi-1.5-34B", "01-ai/Yi-1.5-9B", "01-ai/Yi-1.5-6B", "ai21labs/Jamba-v0.1",
)
CODE_FAMILIES = ("StarCoder", "CodeLlama", "Codegen", "StarCoder2", "DeepSeek-Coder", "DeepSeek-Coder-V2")

#: Named model sets of the paper (see the data README): the 77-model main analysis set, etc.
MODEL_SETS: dict[str, str] = {
    "main": "the paper's main analysis set: 21 families, preregistered models excluded (77 base models)",
    "preregistered": "models released after the paper and predicted in advance (20)",
    "code": "code-model families (StarCoder, CodeLlama, Codegen, StarCoder2, DeepSeek-Coder[-V2])",
    "all": "every model of the panel",
}


@dataclass(frozen=True)
class DatasetSpec:
    """How one named dataset is assembled from the public files."""

    name: str
    scores_file: str
    description: str
    target_columns_in_scores: tuple[str, ...] = ()
    targets_file: str | None = None
    target_scale: Mapping[str, float] = field(default_factory=dict)  # column (or "prefix*") -> divisor
    target_aliases: Mapping[str, str] = field(default_factory=dict)
    reference_family: str = "Llama-2"


_POST_TRAINING_ALIASES = {
    "gsm8k_5_exact_match,flexible-extract": "gsm8k_5",
    "gsm8k_cot_8_exact_match,flexible-extract": "gsm8k_cot",
    "gsm8k_cot_self_consistency_8_exact_match,maj@5-flexible-extract": "gsm8k_cot_sc",
    "gsm8k_cot_zeroshot_0_exact_match,flexible-extract": "gsm8k_cot_zeroshot",
}
# Keys ending in "*" match every column with that prefix; exact keys win.
_AGENT_SCALE = {"ABench-*": 100.0, "ABoard-*": 100.0, "ABench-OA": 1.0}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("obsscaling-base", "base_llm_benchmark_eval.csv", "148 base models, 8 standard benchmarks"),
        DatasetSpec("obsscaling-base-sub10b", "base_llm_benchmark_eval_sub_10b.csv", "92 base models under 10B"),
        DatasetSpec(
            "obsscaling-emergent", "base_llm_benchmark_eval.csv",
            "base models with BigBench emergent tasks as targets (BLEU rescaled to [0, 1])",
            targets_file="base_llm_emergent_capability_eval.csv",
            target_scale={"ipa_transliterate_2_bleu": 100.0},
        ),
        DatasetSpec(
            "obsscaling-post-training", "base_llm_benchmark_eval.csv",
            "base models with GSM8K / BBH with and without CoT and self-consistency as targets; "
            "aliases gsm8k_5, gsm8k_cot, gsm8k_cot_sc, gsm8k_cot_zeroshot name the flexible-extract columns",
            targets_file="base_llm_post_training_eval.csv",
            target_aliases=_POST_TRAINING_ALIASES,
        ),
        DatasetSpec(
            "obsscaling-instruct", "instruct_llm_benchmark_eval.csv",
            "27 instruction-tuned models, 7 standard benchmarks; Arena-Elo and MTBench as targets",
            target_columns_in_scores=("Arena-Elo", "MTBench"), reference_family="Llama-2-Chat",
        ),
        DatasetSpec(
            "obsscaling-agent", "instruct_llm_benchmark_eval.csv",
            "instruction-tuned models with AgentBench / AgentBoard as targets (subtasks rescaled from percent "
            "to [0, 1]; ABench-OA keeps its own 0-~4 scale); Arena-Elo and MTBench also as targets",
            target_columns_in_scores=("Arena-Elo", "MTBench"), targets_file="instruct_llm_agent_eval.csv",
            target_scale=_AGENT_SCALE, reference_family="Llama-2-Chat",
        ),
    )
}


def cache_dir() -> Path:
    """The per-user cache folder (``OSLTOOLS_CACHE_DIR`` or the platform cache)."""
    return Path(os.environ.get("OSLTOOLS_CACHE_DIR") or pooch.os_cache("osltools"))


def _check(path: Path, filename: str) -> Path:
    actual = file_sha256(path)
    if actual != FILES[filename]:
        raise ChecksumError(
            f"{path}: sha256 {actual} differs from the pinned {FILES[filename]} of {filename} "
            "(the file is damaged or a different version; replace it with the upstream file)"
        )
    return path


def fetch(filename: str, *, data_dir: str | Path | None = None, base_url: str | None = None) -> Path:
    """Local path of a public file, downloading it (checksum-verified) into the cache if needed.

    Examples
    --------
    >>> fetch("base_llm_benchmark_eval.csv")  # doctest: +SKIP
    PosixPath('.../base_llm_benchmark_eval.csv')
    """
    if filename not in FILES:
        raise ConfigError(f"unknown data file {filename!r} (known: {', '.join(FILES)})")
    for folder in (data_dir, os.environ.get("OSLTOOLS_DATA_DIR") or None):
        if folder is not None and (Path(folder) / filename).is_file():
            return _check(Path(folder) / filename, filename)
    cache = cache_dir()
    if (cache / filename).is_file():
        return _check(cache / filename, filename)
    url = (base_url or os.environ.get("OSLTOOLS_BASE_URL") or BASE_URL).rstrip("/") + "/" + filename
    where = (
        f"put {filename} (from {url}) into {cache} or into a folder named by OSLTOOLS_DATA_DIR"
    )
    if os.environ.get("OSLTOOLS_OFFLINE", "") not in ("", "0"):
        raise DatasetNotAvailableError(f"{filename} is not available offline (OSLTOOLS_OFFLINE is set): {where}")
    try:
        return Path(pooch.retrieve(url, known_hash=f"sha256:{FILES[filename]}", fname=filename, path=cache))
    except ValueError as err:
        if "hash" in str(err).lower():
            raise ChecksumError(
                f"download of {filename} from {url} does not match the pinned sha256 {FILES[filename]}; "
                "nothing was cached"
            ) from err
        raise
    except (requests.exceptions.RequestException, OSError) as err:
        raise DatasetNotAvailableError(f"cannot download {filename} ({type(err).__name__}): {where}") from err


def models_in_set(name: str, panel: Panel) -> list[str]:
    """The models of ``panel`` in a named set of the paper (``main``, ``preregistered``, ``code``, ``all``)."""
    family = panel.meta["family"]
    if name == "main":
        keep = family.isin(MAIN_FAMILIES) & ~panel.models.isin(PREREGISTERED)
    elif name == "preregistered":
        keep = panel.models.isin(PREREGISTERED)
    elif name == "code":
        keep = family.isin(CODE_FAMILIES)
    elif name == "all":
        keep = pd.Series(True, index=panel.models)
    else:
        raise ConfigError(f"unknown model set {name!r} (known: {', '.join(MODEL_SETS)})")
    return [m for m, k in zip(panel.models, keep) if k]


def load_panel(
    name: str,
    *,
    model_set: str | None = None,
    data_dir: str | Path | None = None,
    base_url: str | None = None,
    warn: bool = True,
) -> Panel:
    """Load a named public dataset as a Panel, with its targets attached.

    Parameters
    ----------
    name : one of :data:`DATASETS` (``obsscaling-base``, ``obsscaling-emergent``,
        ``obsscaling-post-training``, ``obsscaling-instruct``, ``obsscaling-agent``, ...).
    model_set : restrict to a named set of the paper (``"main"``: 77 models).
    data_dir : folder holding the files (else ``OSLTOOLS_DATA_DIR``, cache, download).

    Examples
    --------
    >>> panel = load_panel("obsscaling-base", model_set="main")  # doctest: +SKIP
    >>> panel.n_models  # doctest: +SKIP
    77
    """
    spec = _spec(name)
    path = fetch(spec.scores_file, data_dir=data_dir, base_url=base_url)
    panel = read_wide_csv(path, targets=list(spec.target_columns_in_scores), name=name, warn=False)
    if spec.targets_file:
        target_path = fetch(spec.targets_file, data_dir=data_dir, base_url=base_url)
        targets = read_targets_csv(target_path)
        panel = panel.with_targets(
            targets, scale=_resolve_scale(spec.target_scale, targets.columns),
            sources={str(target_path): FILES[spec.targets_file]}, label=spec.targets_file, warn=warn,
        )
    if spec.target_aliases:
        panel = panel.rename_targets(spec.target_aliases)
    if model_set is not None:
        panel = panel.select(models_in_set(model_set, panel))
    if warn:
        panel.warn_plausibility()
    return panel


def _resolve_scale(scale: Mapping[str, float], columns: pd.Index) -> dict[str, float]:
    resolved = {}
    for key, factor in scale.items():
        if key.endswith("*"):
            resolved.update({c: factor for c in columns if c.startswith(key[:-1]) and c not in scale})
        elif key in columns:
            resolved[key] = factor
    return resolved


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)}; or simulate_panel())")
    return DATASETS[name]


def list_datasets() -> pd.DataFrame:
    """The named datasets with their files and descriptions."""
    rows = [
        {"name": s.name, "scores_file": s.scores_file, "targets_file": s.targets_file or "",
         "reference_family": s.reference_family, "description": s.description}
        for s in DATASETS.values()
    ]
    return pd.DataFrame(rows).set_index("name")


def reference_family(name: str) -> str:
    """The paper's reference family for f-equivalent FLOPs on this dataset."""
    return _spec(name).reference_family


__all__ = [
    "BASE_URL", "CITATION", "DATASETS", "FILES", "MODEL_SETS", "SimulatedPanel", "cache_dir", "fetch",
    "list_datasets", "load_panel", "models_in_set", "reference_family", "simulate_panel",
]
