"""Principal capabilities: PCA of the (imputed) benchmark matrix (METHOD.md step 2).

:class:`CapabilityPCA` imputes the training models' missing scores
(:class:`~osltools.impute.PCAImputer`), centres the matrix (and optionally
standardizes it; the paper does not) and keeps K principal components:
scores S (model x PC), loadings gamma (benchmark x PC), the explained
variance of every component, a plain-words label per component and, when
asked, bootstrap confidence intervals.

Sign convention: each component is oriented so that its loadings sum to a
positive number, so a higher score means a more capable model on balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .data import Panel
from .exceptions import ConfigError
from .impute import ImputationResults, PCAImputer
from .replicates import Replicates
from .summary import Summary, SummaryMixin

#: What each of the paper's benchmarks mostly measures; used to label components.
SKILLS: dict[str, str] = {
    "MMLU": "knowledge",
    "ARC-C": "science",
    "HellaSwag": "commonsense",
    "Winograd": "commonsense",
    "Winogrande": "commonsense",
    "XWinograd": "commonsense",
    "TruthfulQA": "truthfulness",
    "GSM8K": "math",
    "HumanEval": "code",
    "MTBench": "chat",
    "Arena-Elo": "chat",
}
#: A skill enters a label when its benchmarks carry at least this share of the component.
LABEL_SHARE = 0.1


def component_names(k: int) -> list[str]:
    return [f"PC{i + 1}" for i in range(k)]


@dataclass(frozen=True)
class PCAFit:
    """The numeric core of a PCA: centre, scale, singular values, oriented right singular vectors."""

    centre: np.ndarray
    scale: np.ndarray
    singular_values: np.ndarray
    vt: np.ndarray  # components x benchmarks, oriented

    @classmethod
    def of(cls, x: np.ndarray, *, standardize: bool) -> PCAFit:
        centre = x.mean(axis=0)
        scale = x.std(axis=0, ddof=1) if standardize else np.ones(x.shape[1])
        if standardize and (scale <= 0).any():
            raise ConfigError("a benchmark is constant after imputation; it cannot be standardized")
        z = (x - centre) / scale
        if z.shape[0] > 4 * z.shape[1] and z.size > 100_000:  # tall panels: SVD of R from a QR is cheaper
            z = np.linalg.qr(z, mode="r")
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        vt = vt * np.where(vt.sum(axis=1) < 0, -1.0, 1.0)[:, None]
        return cls(centre, scale, s, vt)

    def scores(self, x: np.ndarray, k: int) -> np.ndarray:
        return ((x - self.centre) / self.scale) @ self.vt[:k].T

    def explained_variance(self, n: int) -> np.ndarray:
        return self.singular_values**2 / (n - 1)


def label_component(loadings: pd.Series, skills: Mapping[str, str] | None = None) -> str:
    """A plain-words label from a component's loadings (unit norm): "general", "code", "commonsense vs math/code".

    Each benchmark carries ``loading**2`` of the component; shares are summed by
    skill on the positive and the negative side, and skills with at least
    :data:`LABEL_SHARE` enter the label, largest first.
    """
    skills = {**SKILLS, **(skills or {})}
    share = loadings**2 / float((loadings**2).sum())
    side = {}
    for sign, part in (("+", share[loadings > 0]), ("-", share[loadings < 0])):
        by_skill = part.groupby([skills.get(b, b) for b in part.index]).sum().sort_values(ascending=False)
        side[sign] = by_skill
    positive, negative = side["+"], side["-"]
    if negative.sum() < LABEL_SHARE and positive.max() < 0.5 and len(positive) >= 3:
        return "general"
    pos = "/".join(positive[positive >= LABEL_SHARE].index) or positive.index[0]
    neg = "/".join(negative[negative >= LABEL_SHARE].index)
    return f"{pos} vs {neg}" if neg else pos


@dataclass(frozen=True)
class CapabilityPCA:
    """Principal capabilities of a panel.

    Parameters
    ----------
    n_components : K, the number of components kept (explained variance is
        reported for every component).
    standardize : PCA of standardized columns instead of the raw centred
        scores (the paper uses raw).
    imputer : how missing cells are filled (default: rank-1 PCA imputation on
        standardized columns, as in the paper).
    labels : plain-words labels that override the derived ones, e.g. ``{"PC2": "reasoning"}``.
    skills : benchmark -> skill names used for derived labels (added to :data:`SKILLS`).

    Examples
    --------
    >>> from osltools.datasets import simulate_panel
    >>> caps = CapabilityPCA(n_components=3).fit(simulate_panel(seed=0).panel)
    >>> caps.scores.shape
    (100, 3)
    """

    n_components: int = 3
    standardize: bool = False
    imputer: PCAImputer = field(default_factory=PCAImputer)
    labels: Mapping[str, str] | None = None
    skills: Mapping[str, str] | None = None

    def fit(self, panel: Panel) -> CapabilityResults:
        if not isinstance(panel, Panel):
            raise ConfigError(f"fit expects a Panel, got {type(panel).__name__} (build one with osltools.readers)")
        k = self.n_components
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= panel.n_benchmarks:
            raise ConfigError(
                f"n_components={k!r} is not accepted (expected an integer in [1, {panel.n_benchmarks}], "
                "the number of benchmarks)"
            )
        if panel.n_models <= k:
            raise ConfigError(f"{panel.n_models} models are too few for {k} components (need more models than K)")
        imputation = self.imputer.fit(panel)
        x = imputation.completed.to_numpy()
        pca = PCAFit.of(x, standardize=self.standardize)
        names = component_names(k)
        loadings = pd.DataFrame(pca.vt[:k].T, index=panel.benchmarks, columns=names)
        derived = {c: label_component(loadings[c], self.skills) for c in names}
        unknown = [c for c in (self.labels or {}) if c not in names]
        if unknown:
            raise ConfigError(f"labels given for unknown components {unknown} (components: {names})")
        return CapabilityResults(
            model=self,
            panel=panel,
            imputation=imputation,
            pca=pca,
            scores=pd.DataFrame(pca.scores(x, k), index=panel.models, columns=names),
            loadings=loadings,
            labels=pd.Series({**derived, **(self.labels or {})}, name="label").rename_axis("component"),
        )


class _PCAReplicate:
    """Bootstrap pipeline: refit imputation and PCA, return variance ratios and loadings aligned to a reference.

    Alignment: a replicate's component is sign-flipped when its loadings point
    away from the full-data component (negative inner product), so intervals
    describe the loadings, not the arbitrary sign of an eigenvector.
    """

    def __init__(self, model: CapabilityPCA, reference: pd.DataFrame):
        self.model = model
        self.reference = reference

    def __call__(self, panel: Panel, rng: np.random.Generator) -> pd.Series:
        fit = self.model.fit(panel)
        loadings = fit.loadings * np.where((fit.loadings * self.reference).sum() < 0, -1.0, 1.0)
        parts = {
            ("explained_variance_ratio", c, ""): v for c, v in fit.explained_variance_ratio.items()
        } | {("cumulative_ratio", c, ""): v for c, v in fit.cumulative_ratio.items()}
        parts |= {("loading", c, b): loadings.at[b, c] for c in loadings.columns for b in loadings.index}
        return pd.Series(parts).rename_axis(["term", "component", "benchmark"])


@dataclass(frozen=True, repr=False)
class CapabilityResults(SummaryMixin):
    """Scores, loadings, explained variance and labels of a fitted :class:`CapabilityPCA`.

    After :meth:`bootstrap`, ``bse``, ``conf_int`` and the tables carry
    bootstrap standard errors and percentile intervals over models.
    """

    model: CapabilityPCA
    panel: Panel
    imputation: ImputationResults
    pca: PCAFit
    scores: pd.DataFrame  # model x PC1..PCK
    loadings: pd.DataFrame  # benchmark x PC1..PCK
    labels: pd.Series  # component -> plain-words label
    replicates: Replicates | None = None

    # ------------------------------------------------------------------ estimates
    @property
    def n_components(self) -> int:
        return self.scores.shape[1]

    @property
    def components(self) -> list[str]:
        return list(self.scores.columns)

    @property
    def centre(self) -> pd.Series:
        return pd.Series(self.pca.centre, index=self.panel.benchmarks, name="centre")

    @property
    def scale(self) -> pd.Series:
        return pd.Series(self.pca.scale, index=self.panel.benchmarks, name="scale")

    @property
    def imputed(self) -> pd.DataFrame:
        """The completed benchmark matrix the PCA was computed on."""
        return self.imputation.completed

    @property
    def explained_variance(self) -> pd.Series:
        """Variance of every component's scores (all of them, not only the K kept)."""
        values = self.pca.explained_variance(self.panel.n_models)
        return pd.Series(values, index=component_names(len(values)), name="explained_variance")

    @property
    def explained_variance_ratio(self) -> pd.Series:
        s2 = self.pca.singular_values**2
        return pd.Series(s2 / s2.sum(), index=component_names(len(s2)), name="explained_variance_ratio")

    @property
    def cumulative_ratio(self) -> pd.Series:
        return self.explained_variance_ratio.cumsum().rename("cumulative_ratio")

    @property
    def params(self) -> pd.Series:
        """The headline estimates: explained-variance ratio of every component."""
        return self.explained_variance_ratio

    def variance_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """Explained variance, ratio and cumulative ratio per component (with bootstrap CIs when available)."""
        table = pd.concat([self.explained_variance, self.explained_variance_ratio, self.cumulative_ratio], axis=1)
        if self.replicates is None:
            return table
        ci = self._ci(alpha)
        for term in ("explained_variance_ratio", "cumulative_ratio"):
            part = ci.xs(term, level="term").droplevel("benchmark")
            table[f"{term}_lower"], table[f"{term}_upper"] = part["lower"], part["upper"]
        return table

    # ------------------------------------------------------------------ bootstrap
    def bootstrap(
        self, *, n_boot: int = 1000, seed=0, n_jobs: int = 1, backend: str = "loky", scheduler: str | None = None
    ) -> CapabilityResults:
        """A copy with bootstrap intervals: models resampled with replacement, imputation and PCA re-run.

        Each replicate refits the whole pipeline (imputation, then PCA) on the
        resampled models; loadings are sign-aligned to this fit before
        intervals are taken (percentile intervals; SE = sd of the replicates).
        """
        from .resampling import bootstrap as run_bootstrap

        replicates = run_bootstrap(
            _PCAReplicate(self.model, self.loadings), self.panel, n_boot=n_boot, seed=seed, n_jobs=n_jobs,
            backend=backend, scheduler=scheduler, label="Bootstrap of explained variance and loadings",
        )
        return replace(self, replicates=replicates)

    def _replicates(self) -> Replicates:
        if self.replicates is None:
            raise ConfigError("no bootstrap yet: call .bootstrap(n_boot=..., seed=...) for standard errors and intervals")
        return self.replicates

    def _ci(self, alpha: float) -> pd.DataFrame:
        return self._replicates().conf_int(alpha)

    @property
    def bse(self) -> pd.Series:
        """Bootstrap standard errors of the explained-variance ratios."""
        se = self._replicates().se().xs("explained_variance_ratio", level="term").droplevel("benchmark")
        return se.reindex(self.params.index).rename("bse")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Percentile bootstrap intervals (``lower``/``upper``) of the explained-variance ratios."""
        ci = self._ci(alpha).xs("explained_variance_ratio", level="term").droplevel("benchmark")
        return ci.reindex(self.params.index)

    # ------------------------------------------------------------------ new models
    def transform(self, panel: Panel) -> pd.DataFrame:
        """Scores of new models: imputed with the training imputer, projected on the training loadings."""
        if list(panel.benchmarks) != list(self.panel.benchmarks):
            raise ConfigError(
                f"benchmarks {list(panel.benchmarks)} differ from the fitted ones {list(self.panel.benchmarks)}; "
                "select the same benchmarks in the same order"
            )
        completed = self.imputation.transform(panel).to_numpy()
        return pd.DataFrame(self.pca.scores(completed, self.n_components), index=panel.models, columns=self.components)

    def frame(self) -> pd.DataFrame:
        """The panel's metadata, scores and targets with the PC columns, for formulas."""
        return self.panel.frame().join(self.scores)

    # ------------------------------------------------------------------ interpretation
    def relabel(self, labels: Mapping[str, str]) -> CapabilityResults:
        """A copy with some components' plain-words labels replaced."""
        unknown = [c for c in labels if c not in self.components]
        if unknown:
            raise ConfigError(f"unknown components {unknown} (components: {self.components})")
        new = self.labels.copy()
        new.loc[list(labels)] = list(labels.values())
        return replace(self, labels=new)

    def interpretation(self, *, top: int = 3) -> pd.DataFrame:
        """Per component: its label, share of variance, and the benchmarks that load most (sign, share)."""
        rows = []
        ratio = self.explained_variance_ratio
        for c in self.components:
            share = self.loadings[c] ** 2
            order = share.sort_values(ascending=False).index[:top]
            leading = ", ".join(f"{b} ({'+' if self.loadings.at[b, c] > 0 else '-'}{share[b]:.0%})" for b in order)
            rows.append({"component": c, "label": self.labels[c], "variance_ratio": ratio[c], "leading_benchmarks": leading})
        return pd.DataFrame(rows).set_index("component")

    def loadings_long(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per (component, benchmark): loading, its share of the component, and bootstrap CI if run."""
        long = self.loadings.rename_axis("benchmark").reset_index().melt(
            "benchmark", var_name="component", value_name="loading"
        )
        long["share"] = long["loading"] ** 2
        long = long[["component", "benchmark", "loading", "share"]]
        if self.replicates is not None:
            ci = self._ci(alpha).xs("loading", level="term")
            keys = list(zip(long["component"], long["benchmark"]))
            long["lower"] = ci["lower"].reindex(keys).to_numpy()
            long["upper"] = ci["upper"].reindex(keys).to_numpy()
        return long

    # ------------------------------------------------------------------ contract
    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """Long table, one row per estimate: explained variance (and ratios) and loadings; CIs after a bootstrap."""
        parts = {"explained_variance": self.explained_variance, "explained_variance_ratio": self.explained_variance_ratio,
                 "cumulative_ratio": self.cumulative_ratio}
        rows = [(term, c, "", v) for term, series in parts.items() for c, v in series.items()]
        rows += [("loading", c, b, self.loadings.at[b, c]) for c in self.components for b in self.loadings.index]
        tidy = pd.DataFrame(rows, columns=["term", "component", "benchmark", "estimate"])
        if self.replicates is not None:
            ci = self._ci(alpha)
            se = self._replicates().se()
            keys = list(zip(tidy["term"], tidy["component"], tidy["benchmark"]))
            tidy["se"] = se.reindex(keys).to_numpy()
            tidy["lower"] = ci["lower"].reindex(keys).to_numpy()
            tidy["upper"] = ci["upper"].reindex(keys).to_numpy()
        return tidy

    def summary(self) -> Summary:
        header = {
            "Models": self.panel.n_models,
            "Benchmarks": self.panel.n_benchmarks,
            "Components kept (K)": self.n_components,
            "Scale": "standardized columns" if self.model.standardize else "raw (centred, unscaled) scores",
            "Imputation": f"rank-{self.model.imputer.rank} PCA, {self.imputation.n_imputed} cells, "
            f"{self.imputation.n_iter} iterations{'' if self.imputation.converged else ' (NOT converged)'}",
        }
        tables = [
            ("Explained variance", self.variance_table()),
            ("Interpretation", self.interpretation()),
            ("Loadings", self.loadings),
        ]
        if self.replicates is not None:
            reps = self.replicates
            header["Bootstrap"] = f"{reps.n_succeeded} of {reps.n_requested} replicates (seed entropy {reps.entropy})"
            long = self.loadings_long().set_index(["component", "benchmark"])
            tables.append(("Loadings with 95% bootstrap intervals", long[["loading", "lower", "upper"]]))
        notes = [
            "Signs: each component is oriented so its loadings sum to a positive number (higher = more capable).",
            f"Labels are derived from the loadings (skills with >= {LABEL_SHARE:.0%} of a component); override "
            "them with CapabilityPCA(labels=...) or relabel().",
        ]
        if self.replicates is not None:
            notes.append("Intervals: percentile bootstrap over models; every replicate re-runs imputation and PCA; "
                         "loadings are sign-aligned to the full-data fit.")
            if self.replicates.n_failed:
                notes.append(f"{self.replicates.n_failed} bootstrap replicates failed and are listed in "
                             "replicates.failures.")
        return Summary("Principal capabilities", header, tables, notes)

    def __repr__(self) -> str:
        ratio = self.cumulative_ratio.iloc[self.n_components - 1]
        return (
            f"<CapabilityResults: {self.n_components} PCs of {self.panel.n_benchmarks} benchmarks on "
            f"{self.panel.n_models} models ({len(self.panel.families)} families), {ratio:.1%} of variance>"
        )
