"""Render a report's sections to HTML (self-contained) and Markdown with the package's Jinja2 templates."""

from __future__ import annotations

import html

import jinja2
import pandas as pd
from markupsafe import Markup

from ..summary import format_frame, markdown_table
from .document import CodeBlock, FigureBlock, Section, TableBlock, Text

__all__ = ["render_html", "render_markdown"]

DIGITS = 4


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("osltools.report", "templates"), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.tests.update(text=lambda b: isinstance(b, Text), figure=lambda b: isinstance(b, FigureBlock),
                     table=lambda b: isinstance(b, TableBlock), code=lambda b: isinstance(b, CodeBlock))
    return env


def _inline_code(text: str) -> Markup:
    """HTML of a paragraph: escaped, with `backticks` as <code>."""
    parts = html.escape(text).split("`")
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


def _labelled_rows(block: TableBlock) -> bool:
    """Show the index unless it is a plain row count."""
    return not isinstance(block.shown.index, pd.RangeIndex)


def _html_table(block: TableBlock) -> Markup:
    return Markup(format_frame(block.shown, DIGITS).to_html(classes="osl-table", border=0, na_rep="",
                                                             index=_labelled_rows(block)))


def _markdown_table(block: TableBlock) -> str:
    return markdown_table(block.shown, DIGITS, index=_labelled_rows(block))


def render_html(*, title: str, banner: str | None, sections: list[Section], footer: str) -> str:
    env = _environment(True)
    env.filters.update(inline=_inline_code, html_table=_html_table)
    return env.get_template("report.html.j2").render(title=title, banner=banner, sections=sections, footer=footer)


def render_markdown(*, title: str, banner: str | None, sections: list[Section], footer: str) -> str:
    env = _environment(False)
    env.filters.update(md_table=_markdown_table)
    return env.get_template("report.md.j2").render(title=title, banner=banner, sections=sections, footer=footer)
