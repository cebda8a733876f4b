"""The printable summary shared by every Results object.

A :class:`Summary` is a title, a few header facts, captioned tables and
numbered notes. It renders to text (``__str__``), HTML (``as_html``, also the
notebook ``_repr_html_``) and Markdown (``as_markdown``). Values are stored
unrounded in the tables; rounding happens here, when displayed.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def format_number(value: object, digits: int = 4) -> str:
    """Format one cell for display: significant digits, small p-values as ``<1e-4``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.{digits}g}"
    return str(value)


def format_frame(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """A copy of ``frame`` with every cell formatted as display text."""
    out = frame.copy()
    for column in out.columns:
        out[column] = [format_number(v, digits) for v in out[column].tolist()]
    out = out.astype(object)
    return out


def markdown_table(frame: pd.DataFrame, digits: int = 4, index: bool = True) -> str:
    """Render a DataFrame as a GitHub-flavoured Markdown table."""
    shown = format_frame(frame, digits)
    if index:
        names = [n if n is not None else "" for n in (shown.index.names or [""])]
        shown = shown.reset_index()
        shown.columns = [*names, *list(shown.columns[len(names):])]
    headers = [str(c) for c in shown.columns]
    rows = [[str(v).replace("|", "\\|") for v in row] for row in shown.itertuples(index=False)]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Summary:
    """Title, header facts, captioned tables and numbered notes of a result."""

    title: str
    header: dict[str, object] = field(default_factory=dict)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, caption: str) -> pd.DataFrame:
        """The table with this caption (unrounded values)."""
        for name, frame in self.tables:
            if name == caption:
                return frame
        known = ", ".join(repr(c) for c, _ in self.tables)
        raise KeyError(f"no table {caption!r} in this summary; tables: {known}")

    def as_text(self, digits: int = 4) -> str:
        width = 78
        out = [self.title.center(width), "=" * width]
        for key, value in self.header.items():
            out.append(f"{key + ':':<32}{format_number(value, digits)}")
        for caption, frame in self.tables:
            out += ["", caption, "-" * min(width, max(len(caption), 8))]
            out.append(format_frame(frame, digits).to_string())
        if self.notes:
            out += ["", "Notes:"]
            out += [f"[{i}] {note}" for i, note in enumerate(self.notes, start=1)]
        return "\n".join(out)

    def as_markdown(self, digits: int = 4, level: int = 3) -> str:
        hashes = "#" * level
        out = [f"{hashes} {self.title}", ""]
        for key, value in self.header.items():
            out.append(f"- **{key}**: {format_number(value, digits)}")
        for caption, frame in self.tables:
            out += ["", f"**{caption}**", "", markdown_table(frame, digits)]
        if self.notes:
            out += ["", "Notes:", ""]
            out += [f"{i}. {note}" for i, note in enumerate(self.notes, start=1)]
        return "\n".join(out) + "\n"

    def as_html(self, digits: int = 4) -> str:
        parts = [f"<div class='osl-summary'><h4>{html.escape(self.title)}</h4>"]
        if self.header:
            rows = "".join(
                f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(format_number(v, digits))}</td></tr>"
                for k, v in self.header.items()
            )
            parts.append(f"<table class='osl-header'>{rows}</table>")
        for caption, frame in self.tables:
            parts.append(f"<p class='osl-caption'><b>{html.escape(caption)}</b></p>")
            parts.append(format_frame(frame, digits).to_html(classes="osl-table", border=0))
        if self.notes:
            items = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
            parts.append(f"<p>Notes:</p><ol class='osl-notes'>{items}</ol>")
        parts.append("</div>")
        return "".join(parts)

    def __str__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


class SummaryMixin:
    """``__str__`` and ``_repr_html_`` for Results classes that define ``summary()``."""

    __slots__ = ()

    def summary(self) -> Summary:  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return self.summary().as_text()

    def _repr_html_(self) -> str:
        return self.summary().as_html()
