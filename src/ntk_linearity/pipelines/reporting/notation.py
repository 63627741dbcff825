"""One notation in the report: ΔK, ‖H‖, Θ, Õ, √, K(x, x), and the vocabulary's labels in tables.

``table1.md`` and the verdict reasons are plain ASCII files (``Delta K``, ``||H||``, ``O~(1/sqrt m)``,
``Theta(1)``, architecture names such as ``linear_output`` in their cells), and a sweep's table of
slopes names its columns by quantity (``hessian_norm``). The report shows all of them in the notation
of its prose: :func:`notation` rewrites a block of Markdown at display time, and :func:`relabel_table`
replaces a table's header cells and first-column names by their labels of
:mod:`ntk_linearity.experiment.vocabulary` (``QUANTITIES[...].text``, ``ARCHITECTURES[...].label``).
The persisted files stay as they are.
"""

from __future__ import annotations

import re

from ntk_linearity.experiment.vocabulary import ARCHITECTURES, BALL_HESSIAN_SUP, QUANTITIES

_ASCII = (
    (re.compile(r"\|\|H\|\|"), "‖H‖"),
    (re.compile(r"\\\|\\\|H\\\|\\\|"), "‖H‖"),  # the same, escaped by markdown.escape
    (re.compile(r"\bDelta K\b"), "ΔK"),
    (re.compile(r"\bO~\("), "Õ("),
    (re.compile(r"\bO\\~\\\("), "Õ\\("),  # escaped
    (re.compile(r"\bTheta\("), "Θ("),
    (re.compile(r"\bTheta\\\("), "Θ\\("),  # escaped
    (re.compile(r"\bsqrt ?([A-Za-z])\b"), r"√\1"),
    (re.compile(r"\bK\(x,x\)"), "K(x, x)"),
    (re.compile(r"\bK\\\(x,x\\\)"), "K\\(x, x\\)"),  # escaped
    (re.compile(r"\balpha\b"), "α"),
)
_LABELS = {**{q.name: q.text for q in QUANTITIES.values()}, BALL_HESSIAN_SUP.name: BALL_HESSIAN_SUP.text,
           **{name: a.label for name, a in ARCHITECTURES.items()}}
_BOLD_NAME = re.compile(r"\*\*(" + "|".join(sorted(map(re.escape, ARCHITECTURES), key=len, reverse=True)) + r")\*\*")


def notation(markdown: str) -> str:
    """``markdown`` in the report's notation: ASCII spellings of ΔK, ‖H‖, Õ, Θ, √ and K(x, x) replaced,
    tables relabelled (:func:`relabel_table`), an architecture named in bold (``**linear_output**``)
    given its label."""
    for pattern, replacement in _ASCII:
        markdown = pattern.sub(replacement, markdown)
    markdown = _BOLD_NAME.sub(lambda m: f"**{ARCHITECTURES[m.group(1)].label}**", markdown)
    return relabel_table(markdown)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def relabel_table(markdown: str) -> str:
    """Every Markdown table of ``markdown`` with a quantity or architecture name in a header cell or a
    first-column cell replaced by its label (``hessian_norm`` -> ``‖H‖ at w₀``, ``linear_output`` ->
    ``linear output``); other lines unchanged."""
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("|") or set(line.replace("|", "").strip()) <= set("-: "):
            continue
        cells = _cells(line)
        header = i + 1 < len(lines) and set(lines[i + 1].replace("|", "").strip()) <= set("-: ") \
            and lines[i + 1].strip().startswith("|")
        cells = [_LABELS.get(c, c) if header or j == 0 else c for j, c in enumerate(cells)]
        lines[i] = "| " + " | ".join(cells) + " |"
    return "\n".join(lines)
