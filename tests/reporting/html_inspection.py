"""Reading a rendered report back as a browser would, with the standard library's ``html.parser``:
its elements with their attributes, its visible text, and whatever in it could run code or fetch
something from outside (checked here independently of ``reporting.sanitise``)."""

from __future__ import annotations

from html.parser import HTMLParser

ACTIVE_ELEMENTS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "link", "base",
                   "form", "svg", "math", "audio", "video", "source", "track", "noscript", "template"}
EXTERNAL_PREFIXES = ("http:", "https:", "//", "ftp:", "file:")


class Page(HTMLParser):
    """``elements``: ``(tag, {attribute: value})`` in document order; ``text``: the text a reader
    sees (character references decoded; not the content of ``<style>``, ``<title>``, ``<script>``)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self._chunks: list[str] = []
        self._hidden = 0
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))
        if tag in ("style", "title", "script"):
            self._hidden += 1

    def handle_endtag(self, tag) -> None:
        if tag in ("style", "title", "script"):
            self._hidden -= 1

    def handle_data(self, data) -> None:
        if not self._hidden:
            self._chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self._chunks)

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == name]


def live_markup(page: str) -> list[str]:
    """Elements that run code or embed other documents, event-handler attributes, ``javascript:``
    URLs and references to anything outside the page."""
    found = []
    for tag, attrs in Page(page).elements:
        if tag in ACTIVE_ELEMENTS:
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            plain = "".join(value.split()).lower()
            if name.startswith("on"):
                found.append(f"{name} on <{tag}>")
            if "javascript:" in plain or "vbscript:" in plain:
                found.append(f"{name}={value!r} on <{tag}>")
            if name in ("src", "href", "srcset", "action", "poster", "data") and plain.startswith(EXTERNAL_PREFIXES):
                found.append(f"{name}={value!r} on <{tag}>")
            if name == "src" and not plain.startswith("data:image/"):
                found.append(f"src={value[:40]!r} on <{tag}>: not an inline image")
    return found
