"""The report page holds no live markup from its inputs: no script, no event handler, no external
resource.

nbconvert's page is a head written by the project's template (title, inline CSS) and a ``<main>``
holding every rendered cell. :func:`sanitise_report` cleans the ``<main>`` with bleach against an
allowlist: the elements of rendered Markdown and of nbconvert's output areas, with classes and ids;
an image's ``src`` only as an inline raster ``data:image/...;base64,`` URL, a link's ``href`` only as an
anchor inside the page, table-cell ``style`` only as ``text-align``. Anything else is escaped into
visible text (a ``<script>`` shows as the text ``<script>``) or, for an attribute, dropped; comments
are removed. :func:`unsafe_markup` then checks the whole page, head included, and
:func:`sanitise_report` refuses to return a page it objects to.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import bleach
from bleach.css_sanitizer import CSSSanitizer

MAIN_OPEN, MAIN_CLOSE = "<main>", "</main>"

BODY_TAGS = frozenset({
    "main", "div", "span", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "a", "strong", "em", "b",
    "i", "del", "sub", "sup", "code", "pre", "blockquote", "ul", "ol", "li", "dl", "dt", "dd", "table",
    "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "img",
})
PAGE_TAGS = BODY_TAGS | {"html", "head", "meta", "title", "style", "body"}
GLOBAL_ATTRIBUTES = frozenset({"class", "id", "tabindex", "title", "data-mime-type"})
TAG_ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "a": {"href"},
    "th": {"style", "colspan", "rowspan"},
    "td": {"style", "colspan", "rowspan"},
    "ol": {"start"},
}
URL_ATTRIBUTES = frozenset({"href", "src", "srcset", "action", "formaction", "poster", "background", "cite",
                            "data", "xlink:href", "manifest", "ping"})
INLINE_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*\Z")
CSS_URL = re.compile(r"url\(\s*['\"]?\s*(?!data:)", re.I)


class UnsafeReportError(ValueError):
    """The rendered page still holds a script, an event handler or an external resource."""


def _allowed_url(tag: str, name: str, value: str) -> bool:
    """An image's source inline (raster ``data:`` URL), any other URL an anchor on this page."""
    value = value.strip()
    if tag == "img" and name == "src":
        return bool(INLINE_IMAGE.match(value))
    return value.startswith("#")


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name not in GLOBAL_ATTRIBUTES and name not in TAG_ATTRIBUTES.get(tag, ()):
        return False
    return _allowed_url(tag, name, value) if name in URL_ATTRIBUTES else True


def sanitise_fragment(fragment: str) -> str:
    """``fragment`` with only the allowed elements and attributes live; the rest escaped or dropped."""
    cleaner = bleach.Cleaner(
        tags=BODY_TAGS, attributes=_allowed_attribute, protocols={"data"}, strip=False,
        strip_comments=True, css_sanitizer=CSSSanitizer(allowed_css_properties={"text-align"}),
    )
    return cleaner.clean(fragment)


class _Inspector(HTMLParser):
    """Collects what :func:`unsafe_markup` objects to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in PAGE_TAGS:
            self.problems.append(f"element <{tag}>")
        self._in_style = tag == "style"
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event handler {name} on <{tag}>")
            elif name in URL_ATTRIBUTES and not _allowed_url(tag, name, value):
                self.problems.append(f"{name}={value[:60]!r} on <{tag}>")
            elif name == "http-equiv":
                self.problems.append(f"<{tag} http-equiv={value!r}>")
            elif name == "style" and (CSS_URL.search(value) or "expression(" in value.lower()):
                self.problems.append(f"style={value[:60]!r} on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and (CSS_URL.search(data) or "@import" in data.lower()):
            self.problems.append("a stylesheet loading an external resource")


def unsafe_markup(page: str) -> list[str]:
    """What in ``page`` could run code or load anything from outside it: elements other than those
    of a rendered report (script, iframe, object, embed, link, svg, form...), event-handler
    attributes, URLs other than inline images and anchors, ``http-equiv``, CSS that imports or
    loads a URL. Empty for a safe page."""
    inspector = _Inspector()
    inspector.feed(page)
    inspector.close()
    return inspector.problems


def sanitise_report(page: str) -> str:
    """nbconvert's page with its ``<main>`` sanitised (:func:`sanitise_fragment`), checked whole
    with :func:`unsafe_markup`."""
    start, end = page.find(MAIN_OPEN), page.rfind(MAIN_CLOSE)
    if start < 0 or end < start:
        raise UnsafeReportError("the rendered page has no <main> element to sanitise")
    start += len(MAIN_OPEN)
    clean = page[:start] + sanitise_fragment(page[start:end]) + page[end:]
    problems = unsafe_markup(clean)
    if problems:
        raise UnsafeReportError(f"the sanitised report still holds {', '.join(problems[:5])}")
    return clean
