"""Values from data, configuration or the environment, written into the report's Markdown as text.

Sweep and group names, namespaces, the Kedro environment, package versions, error messages: none of
them may turn into markup (a link, an HTML tag, a table cell boundary, emphasis). :func:`escape`
backslash-escapes every ASCII punctuation character (CommonMark renders each as itself) and folds
line breaks into spaces, so the value stays one inline run of literal text; :func:`code` puts a value
in a code span whatever backticks it holds. Two characters stay as they are where they cannot start
markup, so that names read the same in ``table1.md``: an underscore between letters or digits
(intraword underscores never open or close emphasis) and a period after a letter (an ordered-list
marker needs digits): ``width_sweep.linear_m8_s0`` is written unchanged.

The report's renderer also shows any raw HTML in Markdown as text, and the final page is sanitised
(:mod:`.sanitise`); escaping here keeps a value's text as written.
"""

from __future__ import annotations

import re

import pandas as pd

# Every ASCII punctuation character but an underscore inside a word and a period after a letter.
_PUNCTUATION = re.compile(r"(?!(?<=[A-Za-z0-9])_(?=[A-Za-z0-9]))(?!(?<=[A-Za-z])\.)([!-/:-@\[-`{-~])")
_BACKTICKS = re.compile(r"`+")


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def escape(value: object) -> str:
    """``value`` as literal Markdown text: ``"a|b <i>"`` becomes ``"a\\|b \\<i\\>"``."""
    return _PUNCTUATION.sub(r"\\\1", _one_line(value))


def code(value: object) -> str:
    """``value`` as a Markdown code span, shown verbatim (its fence is longer than any run of
    backticks inside it)."""
    content = _one_line(value)
    fence = "`" * (1 + max((len(run) for run in _BACKTICKS.findall(content)), default=0))
    pad = " " if content.startswith("`") or content.endswith("`") else ""
    return f"{fence}{pad}{content}{pad}{fence}"


def markdown_table(frame: pd.DataFrame) -> str:
    """A small DataFrame as a Markdown table whose header and cells are literal text
    (no ``tabulate`` dependency)."""
    def row(cells) -> str:
        return "| " + " | ".join(escape(cell) for cell in cells) + " |"

    rule = "|" + "---|" * len(frame.columns)
    return "\n".join([row(frame.columns), rule, *(row(values) for values in frame.itertuples(index=False))])
