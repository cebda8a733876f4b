"""The pieces of a report (text, figures, tables, sections) and the writer that saves figures and tables.

Sections are built from these blocks; the renderer turns the same blocks into
HTML (figures embedded) and Markdown (figures linked), so both always say the
same thing. Tables are saved in full as CSV (the tidy outputs); the report
shows them in full or, when long, a first part with a link to the CSV.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["Text", "FigureBlock", "TableBlock", "CodeBlock", "Section", "ReportWriter", "slug"]

#: Tables with more rows are shown folded (HTML) or linked (Markdown).
LONG_TABLE = 25
PNG_DPI = 110


def slug(name: str) -> str:
    """A file-name-safe version of a target or section name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "x"


@dataclass(frozen=True)
class Text:
    """A paragraph; ``kind`` is ``"text"``, ``"note"`` (small print) or ``"warning"``."""

    text: str
    kind: str = "text"


@dataclass(frozen=True)
class CodeBlock:
    """Verbatim text (the configuration, a command)."""

    text: str
    language: str = ""


@dataclass(frozen=True)
class FigureBlock:
    name: str
    caption: str
    png: str  # path relative to the report folder
    svg: str
    data_uri: str  # the PNG, embedded in the HTML


@dataclass(frozen=True)
class TableBlock:
    name: str
    caption: str
    shown: pd.DataFrame  # what the report displays (unrounded; formatted when rendered)
    csv: str | None  # path of the full tidy table, relative to the report folder
    n_rows: int  # rows of the full table

    @property
    def long(self) -> bool:
        return len(self.shown) > LONG_TABLE


@dataclass
class Section:
    """A titled part of the report: its anchor id, title and blocks in order."""

    id: str
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks) -> Section:
        self.blocks.extend(b for b in blocks if b is not None)
        return self

    def text(self, text: str, kind: str = "text") -> Section:
        return self.add(Text(text, kind))

    def warnings(self, messages) -> Section:
        return self.add(*(Text(m, "warning") for m in dict.fromkeys(messages)))


class ReportWriter:
    """Saves figures (PNG and SVG) and tables (CSV) into a report folder and returns their blocks."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "figures").mkdir(parents=True, exist_ok=True)
        (self.root / "tables").mkdir(parents=True, exist_ok=True)
        self._names: set[str] = set()

    def _unique(self, kind: str, name: str) -> str:
        base, n = slug(name), 1
        candidate = base
        while (kind, candidate) in self._names:
            n += 1
            candidate = f"{base}-{n}"
        self._names.add((kind, candidate))
        return candidate

    def figure(self, name: str, fig: Figure, caption: str) -> FigureBlock:
        name = self._unique("figure", name)
        png, svg = f"figures/{name}.png", f"figures/{name}.svg"
        fig.savefig(self.root / png, dpi=PNG_DPI)
        fig.set_layout_engine("none")  # keep the layout computed for the PNG (drawing it again is the costly part)
        # text stays text (smaller, searchable, faster); no date and fixed ids, so the same report gives the same file
        with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "osltools"}):
            fig.savefig(self.root / svg, metadata={"Date": None})
        data = base64.b64encode((self.root / png).read_bytes()).decode("ascii")
        return FigureBlock(name, caption, png, svg, f"data:image/png;base64,{data}")

    def table(self, name: str, frame: pd.DataFrame, caption: str, *, shown: pd.DataFrame | None = None) -> TableBlock:
        """Save ``frame`` (the tidy output) as CSV; the report shows ``shown`` (default the frame itself)."""
        name = self._unique("table", name)
        csv = f"tables/{name}.csv"
        frame.to_csv(self.root / csv, index=not isinstance(frame.index, pd.RangeIndex))
        return TableBlock(name, caption, frame if shown is None else shown, csv, len(frame))
