"""How the report notebook shows a plan's blocks: Markdown as Markdown, a table as a Markdown table,
a figure as an embedded PNG with its title as alternative text.

Figure format, chosen for a report of at most 2 MB with ~22 figures: PNG at :data:`DPI` = 80, reduced
to an adaptive palette of at most 256 colours (:func:`figure_png`). The report's column is at most
980 CSS pixels wide; the widest figures (15 inches) come out 1200 pixels wide and are scaled down,
the small ones (7 inches) 560 pixels wide and shown at their size, with 10-point text at 11 pixels.
Line plots hold few colours (the palette of the architectures, their min-max bands and the
antialiasing between them), so the palette loses nothing visible while it makes each PNG about three
times smaller than the RGBA one; the lower resolution halves it again against the 110 dpi of the old
report (5.3 MB at conf/base). SVG was not used: the page is sanitised to raster ``data:`` images only
(:mod:`.sanitise`), and matplotlib's SVG of a figure with hundreds of seed markers is larger than
its palette PNG.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
from PIL import Image as PilImage

from ntk_linearity.pipelines.reporting.outline import Figure, Table

DPI = 80
COLOURS = 256


def figure_alt(fig) -> str:
    """The figure's title (its suptitle, else its first panel title) as one line of text."""
    titles = [fig._suptitle.get_text() if fig._suptitle else "", *(ax.get_title() for ax in fig.axes)]
    return next((t for t in titles if t), "figure").replace("\n", " ")


def figure_png(fig, dpi: int = DPI, colours: int = COLOURS) -> bytes:
    """``fig`` as a palette PNG (closed afterwards): rendered at ``dpi``, quantised to at most
    ``colours`` colours without dithering, compressed with PNG's optimiser."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)  # laid out by the figure (constrained)
    plt.close(fig)
    image = PilImage.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    palette = image.quantize(colors=colours, method=PilImage.Quantize.MEDIANCUT, dither=PilImage.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="png", optimize=True)
    return out.getvalue()


def show(block) -> None:
    """Display one block of a :class:`~.outline.Section` in the notebook."""
    from IPython.display import Image, Markdown, display  # noqa: PLC0415

    if isinstance(block, Figure):
        fig = block.draw()
        alt = figure_alt(fig)
        display(Image(data=figure_png(fig), format="png", alt=alt))
    elif isinstance(block, Table):
        display(Markdown(block.markdown()))
    else:
        display(Markdown(block))
