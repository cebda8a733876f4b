"""A simulated panel drawn from the method's own equations, with known truth.

For model m of family f with log10 training compute x_m:

    S_m   = theta_f (x_m - x0) + v_f + e_m            capabilities, eq. (4)
    B_i,m = clip(max(mu_i + gamma_i' S_m + u_i,m, chance_i), 0, 1)      eq. (5)
    E_m   = floor + (ceiling - floor) sigmoid(beta' S_m + alpha)         eq. (3)

with gamma orthonormal (benchmarks x K), family efficiencies theta_f and
offsets v_f drawn around calibrated means, and targets observed as binomial
proportions over ``n_items`` questions. The defaults in
:class:`SimulationConfig` were calibrated on the paper's public data by
``analyses/calibrate_simulator.py`` (numbers in
``analyses/simulator_calibration.json``; a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit

from .data import Panel
from .exceptions import ConfigError

FAMILY_NAMES = (
    "Alfa", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett", "Kilo", "Lima",
    "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo", "Sierra", "Tango", "Uniform", "Victor", "Whiskey",
    "Xray", "Yankee", "Zulu",
)

#: The paper's eight benchmarks and their chance level (4-way multiple choice, 2-way Winograd, open answers).
DEFAULT_BENCHMARKS = ("MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval")
DEFAULT_CHANCE = (0.25, 0.25, 0.25, 0.5, 0.0, 0.0, 0.5, 0.0)


@dataclass(frozen=True)
class SimulationConfig:
    """Calibrated defaults of :func:`simulate_panel` (see ``analyses/calibrate_simulator.py``).

    Per-component tuples have one entry per latent capability (K = 3).
    """

    # compute: log10 FLOPs of the models, and each family's span along it
    log10_flops_range: tuple[float, float] = (20.1, 24.799)
    family_span_mean: float = 1.495
    # eq. (4): family slopes and offsets (offset at x0), mean and spread across families
    x0: float = 22.623
    slope_mean: tuple[float, ...] = (0.365, -0.006, -0.018)
    slope_sd: tuple[float, ...] = (0.193, 0.124, 0.09)
    offset_mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    offset_sd: tuple[float, ...] = (0.215, 0.181, 0.074)
    capability_noise_sd: tuple[float, ...] = (0.05, 0.034, 0.021)
    # eq. (5): benchmark means, loadings (benchmark x component) and noise beyond K components
    benchmark_means: tuple[float, ...] = (0.415, 0.44, 0.648, 0.664, 0.413, 0.193, 0.674, 0.199)
    loadings: tuple[tuple[float, ...], ...] = (
        (0.448, -0.12, -0.317),
        (0.344, 0.301, 0.041),
        (0.379, 0.615, 0.101),
        (0.242, 0.303, -0.0),
        (0.085, -0.194, -0.267),
        (0.552, -0.433, -0.353),
        (0.214, 0.187, 0.094),
        (0.347, -0.405, 0.826),
    )
    benchmark_noise_sd: float = 0.028
    missing_share: tuple[float, ...] = (0.0, 0.02, 0.0, 0.0, 0.0, 0.0, 0.108, 0.142)
    # metadata: log10 tokens per parameter across families; share of models without a token count
    log10_tokens_per_param_mean: float = 2.295
    log10_tokens_per_param_sd: float = 0.702
    missing_compute_share: float = 0.169


class TargetTruth(NamedTuple):
    """A simulated downstream metric: floor + (ceiling - floor) * sigmoid(beta' S + alpha)."""

    beta: np.ndarray
    alpha: float
    floor: float = 0.0
    ceiling: float = 1.0
    n_items: int = 500

    def expected(self, capabilities: np.ndarray) -> np.ndarray:
        """Noise-free value for capabilities (models x K)."""
        return self.floor + (self.ceiling - self.floor) * expit(np.asarray(capabilities) @ self.beta + self.alpha)


@dataclass(frozen=True)
class SimulationTruth:
    """The parameters a simulated panel was drawn from."""

    capabilities: pd.DataFrame  # model x C1..CK, the latent S (with model-level noise)
    loadings: pd.DataFrame  # benchmark x C1..CK, orthonormal columns
    benchmark_means: pd.Series
    chance: pd.Series
    benchmark_noise_sd: float
    family_slopes: pd.DataFrame  # family x C1..CK (theta_f)
    family_offsets: pd.DataFrame  # family x C1..CK (v_f, capability at x0)
    x0: float
    capability_noise_sd: pd.Series
    targets: dict[str, TargetTruth]
    reference_family: str
    config: SimulationConfig = field(repr=False)

    @property
    def n_components(self) -> int:
        return self.loadings.shape[1]

    def family_capabilities(self, log10_flops: np.ndarray, family: str | None = None) -> np.ndarray:
        """Expected capabilities (len(x) x K) of a family's models at these log10 FLOPs."""
        family = family or self.reference_family
        if family not in self.family_slopes.index:
            raise ConfigError(f"unknown family {family!r} (known: {list(self.family_slopes.index)})")
        x = np.atleast_1d(np.asarray(log10_flops, dtype=float))
        theta = self.family_slopes.loc[family].to_numpy()
        v = self.family_offsets.loc[family].to_numpy()
        return np.outer(x - self.x0, theta) + v

    def target_curve(self, target: str, log10_flops: np.ndarray, family: str | None = None) -> np.ndarray:
        """True expected target along a family's compute axis (default: the reference family)."""
        return self._target(target).expected(self.family_capabilities(log10_flops, family))

    def gap_curve(self, intervention: str, base: str, log10_flops: np.ndarray, family: str | None = None) -> np.ndarray:
        """True intervention-minus-base gap along a family's compute axis (reference-family-equivalent FLOPs)."""
        return self.target_curve(intervention, log10_flops, family) - self.target_curve(base, log10_flops, family)

    def _target(self, name: str) -> TargetTruth:
        if name not in self.targets:
            raise ConfigError(f"unknown simulated target {name!r} (known: {list(self.targets)})")
        return self.targets[name]


class SimulatedPanel(NamedTuple):
    """``(panel, truth)`` returned by :func:`simulate_panel`."""

    panel: Panel
    truth: SimulationTruth


def _family_sizes(rng: np.random.Generator, n_models: int, n_families: int) -> np.ndarray:
    if n_models < 2 * n_families:
        raise ConfigError(f"n_models={n_models} is too small for n_families={n_families} (need >= 2 per family)")
    weights = rng.gamma(2.0, size=n_families)
    extra = rng.multinomial(n_models - 2 * n_families, weights / weights.sum())
    sizes = 2 + extra
    sizes[0] = max(sizes[0], 4)  # the reference family: enough models to fit eq. (7)
    while sizes.sum() > n_models:  # keep the total exact after raising the reference family
        sizes[np.argmax(sizes[1:]) + 1] -= 1
    return sizes


def _loadings(rng: np.random.Generator, cfg: SimulationConfig, n_benchmarks: int, k: int, kind: str) -> np.ndarray:
    if kind not in ("calibrated", "random"):
        raise ConfigError(f"loadings={kind!r} is not accepted (expected 'calibrated' or 'random')")
    if kind == "calibrated" and n_benchmarks == len(cfg.benchmark_means) and k <= len(cfg.loadings[0]):
        return _orthonormal(np.array(cfg.loadings)[:, :k])
    # Random loadings: a general first component, and every component spread over several
    # benchmarks (no benchmark carries more than half of it), so that K is identifiable.
    for _ in range(1000):
        gamma = rng.normal(size=(n_benchmarks, k))
        gamma[:, 0] = np.abs(gamma[:, 0]) + 0.5
        q = _orthonormal(gamma)
        if (q**2).max() <= 0.5:
            return q
    raise ConfigError(f"cannot spread {k} components over {n_benchmarks} benchmarks; use more benchmarks")


def _orthonormal(gamma: np.ndarray) -> np.ndarray:
    q, r = np.linalg.qr(gamma)
    q = q * np.sign(np.diag(r))  # closest in orientation to the input columns
    return q * np.where(q.sum(axis=0) < 0, -1.0, 1.0)


def _per_component(values: tuple[float, ...], k: int, fill: float) -> np.ndarray:
    out = np.full(k, fill)
    n = min(k, len(values))
    out[:n] = values[:n]
    return out


def _default_targets(cap: np.ndarray) -> dict[str, TargetTruth]:
    """An emergent task, a base task and an intervention whose gain grows with capability.

    The emergent task turns on at the 75th percentile of general capability;
    the base task is still below 0.5 at the 90th; the intervention has a
    1.6 times steeper link that meets the base curve at the 10th percentile,
    so its gain rises over most of the panel's range.
    """
    q10, q75, q90 = np.quantile(cap[:, 0], [0.10, 0.75, 0.90])
    k = cap.shape[1]
    emergent = np.zeros(k)
    emergent[0] = 12.0
    base = np.zeros(k)
    base[0] = 6.0
    if k > 1:
        base[1] = -3.0
    steeper = 1.6
    return {
        "emergent_task": TargetTruth(emergent, -12.0 * q75),
        "base_task": TargetTruth(base, -6.0 * q90),
        "intervention_task": TargetTruth(steeper * base, -6.0 * q90 + (1 - steeper) * 6.0 * q10),
    }


def simulate_panel(
    *,
    seed: int | np.random.Generator | None = 0,
    n_models: int = 100,
    n_families: int = 20,
    n_benchmarks: int = 8,
    n_components: int = 3,
    loadings: str = "calibrated",
    missing_share: float | tuple[float, ...] | None = None,
    benchmark_noise_sd: float | None = None,
    target_missing_share: float = 0.1,
    config: SimulationConfig | None = None,
) -> SimulatedPanel:
    """Draw a realistic panel with known truth from the method's equations.

    Parameters
    ----------
    seed : int or Generator; the same seed gives an identical panel.
    n_models, n_families : panel size (>= 2 models per family; the first
        family, ``Alfa``, is the reference family with >= 4 models).
    n_benchmarks : with the default 8 the benchmarks are named like the
        paper's and use its calibrated loadings; otherwise ``B01``... with
        random orthonormal loadings.
    n_components : the true number of latent capabilities K.
    loadings : ``"calibrated"`` uses the public data's loadings for the 8
        default benchmarks (there the third component sits mostly on
        HumanEval); ``"random"`` draws orthonormal loadings with a general first
        component and every component spread over several benchmarks (none
        carries more than half of it); always used for other benchmark counts.
    missing_share : share of missing cells (one number, or one per benchmark).
    benchmark_noise_sd : noise beyond the K capabilities (default calibrated).
    target_missing_share : share of models without target values.

    Returns
    -------
    SimulatedPanel
        ``(panel, truth)``; the panel has targets ``emergent_task``,
        ``base_task`` and ``intervention_task``.

    Examples
    --------
    >>> panel, truth = simulate_panel(seed=1)
    >>> panel.n_models, truth.n_components
    (100, 3)
    """
    cfg = config or SimulationConfig()
    if n_components < 1 or n_benchmarks <= n_components:
        raise ConfigError(
            f"n_components={n_components}, n_benchmarks={n_benchmarks}: need 1 <= n_components < n_benchmarks"
        )
    if n_families < 1:
        raise ConfigError(f"n_families={n_families!r} is not accepted (expected >= 1)")
    rng = np.random.default_rng(seed)
    k = n_components
    families = [FAMILY_NAMES[i % 26] + ("" if i < 26 else f"-{i // 26 + 1}") for i in range(n_families)]
    sizes = _family_sizes(rng, n_models, n_families)

    # compute and capabilities, eq. (4)
    lo, hi = cfg.log10_flops_range
    slope_sd = _per_component(cfg.slope_sd, k, cfg.slope_sd[-1])
    theta = rng.normal(_per_component(cfg.slope_mean, k, 0.0), slope_sd, size=(n_families, k))
    theta[:, 0] = np.abs(theta[:, 0])  # more compute never lowers general capability
    offsets = rng.normal(_per_component(cfg.offset_mean, k, 0.0), _per_component(cfg.offset_sd, k, cfg.offset_sd[-1]),
                         size=(n_families, k))
    cap_sd = _per_component(cfg.capability_noise_sd, k, cfg.capability_noise_sd[-1])
    rows = []
    for f, (family, size) in enumerate(zip(families, sizes)):
        span = min(hi - lo, rng.uniform(0.5, 2 * cfg.family_span_mean - 0.5) + (1.0 if f == 0 else 0.0))
        start = rng.uniform(lo, hi - span)
        xs = np.sort(start + span * rng.uniform(size=size))
        xs[[0, -1]] = start, start + span
        tpp = 10 ** rng.normal(cfg.log10_tokens_per_param_mean, cfg.log10_tokens_per_param_sd)
        for x in xs:
            s = theta[f] * (x - cfg.x0) + offsets[f] + rng.normal(0, cap_sd)
            rows.append((family, x, tpp * 10 ** rng.normal(0, 0.1), s))
    family_col = [r[0] for r in rows]
    x = np.array([r[1] for r in rows])
    cap = np.array([r[3] for r in rows])
    flops = 10**x
    tpp = np.array([r[2] for r in rows])
    params_b = np.sqrt(flops / (6 * tpp)) / 1e9
    tokens_t = tpp * params_b * 1e9 / 1e12
    models = _model_ids(family_col, params_b)

    # benchmarks, eq. (5)
    if n_benchmarks == len(DEFAULT_BENCHMARKS):
        names, chance, means = list(DEFAULT_BENCHMARKS), np.array(DEFAULT_CHANCE), np.array(cfg.benchmark_means)
    else:
        names = [f"B{i + 1:02d}" for i in range(n_benchmarks)]
        chance = np.where(rng.uniform(size=n_benchmarks) < 0.5, 0.25, 0.0)
        means = rng.uniform(0.35, 0.65, size=n_benchmarks)
    gamma = _loadings(rng, cfg, n_benchmarks, k, loadings)
    noise_sd = cfg.benchmark_noise_sd if benchmark_noise_sd is None else benchmark_noise_sd
    centred = cap - cap.mean(axis=0)
    raw = means + centred @ gamma.T + rng.normal(0, noise_sd, size=(len(models), n_benchmarks))
    scores = np.clip(np.maximum(raw, chance), 0.0, 1.0)
    if missing_share is None:
        same = len(cfg.missing_share) == n_benchmarks
        missing_share = cfg.missing_share if same else float(np.mean(cfg.missing_share))
    scores = _hide_cells(rng, scores, missing_share)

    # metadata: some models without a token count, hence without compute
    no_tokens = rng.uniform(size=len(models)) < cfg.missing_compute_share
    no_tokens[np.flatnonzero(np.array(family_col) == families[0])] = False
    tokens = np.where(no_tokens, np.nan, tokens_t)
    meta = pd.DataFrame({"family": family_col, "params_b": params_b, "tokens_t": tokens}, index=models)

    # downstream targets, eq. (3)
    truths = _default_targets(centred)
    target_values = {}
    for name, t in truths.items():
        p = t.expected(centred)
        observed = rng.binomial(t.n_items, p) / t.n_items
        observed[rng.uniform(size=len(models)) < target_missing_share] = np.nan
        target_values[name] = observed
    components = [f"C{j + 1}" for j in range(k)]
    panel = Panel(
        pd.DataFrame(scores, index=models, columns=names), meta,
        targets=pd.DataFrame(target_values, index=models), name=f"simulated (seed={_seed_label(seed)})",
    )
    # Capabilities are reported centred, as PCA sees them; offsets are shifted to match.
    shift = cap.mean(axis=0)
    truth = SimulationTruth(
        capabilities=pd.DataFrame(centred, index=models, columns=components),
        loadings=pd.DataFrame(gamma, index=names, columns=components),
        benchmark_means=pd.Series(means, index=names),
        chance=pd.Series(chance, index=names),
        benchmark_noise_sd=noise_sd,
        family_slopes=pd.DataFrame(theta, index=families, columns=components),
        family_offsets=pd.DataFrame(offsets - shift, index=families, columns=components),
        x0=cfg.x0,
        capability_noise_sd=pd.Series(cap_sd, index=components),
        targets=truths,
        reference_family=families[0],
        config=replace(cfg),
    )
    return SimulatedPanel(panel, truth)


def _seed_label(seed: object) -> str:
    return str(seed) if isinstance(seed, (int, np.integer)) or seed is None else "generator"


def _model_ids(families: list[str], params_b: np.ndarray) -> list[str]:
    ids, seen = [], {}
    for family, n in zip(families, params_b):
        base = f"sim/{family.lower()}-{n:.3g}b"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-v{seen[base]}")
    return ids


def _hide_cells(rng: np.random.Generator, scores: np.ndarray, share: float | tuple[float, ...]) -> np.ndarray:
    n, t = scores.shape
    shares = np.broadcast_to(np.asarray(share, dtype=float), (t,)) if np.ndim(share) == 0 else np.asarray(share, float)
    if shares.shape != (t,) or (shares < 0).any() or (shares >= 1).any():
        raise ConfigError(f"missing_share={share!r}: expected a share in [0, 1) or one per benchmark ({t})")
    hide = rng.uniform(size=(n, t)) < shares
    hide[hide.all(axis=1), 0] = False  # every model keeps at least one score
    out = scores.copy()
    out[hide] = np.nan
    return out
