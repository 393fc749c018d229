"""An HTML part as plain text: paragraphs, line breaks, lists and quotes kept.

`html.parser` (stdlib) is fed in pieces, and the tags and characters of one part are
bounded first (`_MAX_HTML_TAGS`, `_MAX_HTML_CHARS`), so the cost stays linear.
"""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser

MAX_QUOTE_DEPTH = 20  # "> " marks for nested <blockquote>s; deeper ones get no more
_MAX_HTML_CHARS = 2_000_000  # of one HTML part, before it is converted to text
_MAX_HTML_TAGS = 30_000  # of one HTML part: html.parser handles about 100,000 tags a second


class _HtmlText(HTMLParser):
    """HTML to readable plain text for reply extraction.

    Block elements and `<br>` end lines; `<blockquote>` content is prefixed
    with "> " per level so it is treated like a plain-text quote; `<hr>`
    becomes the Outlook separator line; list items get "- " or "1. ".
    """

    BLOCKS = frozenset(
        {"address", "article", "aside", "dd", "div", "dl", "dt", "figure", "footer", "form"}
        | {"h1", "h2", "h3", "h4", "h5", "h6", "header", "li", "main", "nav", "ol", "p", "pre"}
        | {"section", "table", "tbody", "thead", "tfoot", "tr", "ul"}
    )
    SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._buf: list[str] = []
        self._depth = 0
        self._skip = 0
        self._pre = 0
        self._lists: list[int | None] = []  # None for <ul>, next number for <ol>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skip += 1
        elif tag == "br":
            self._flush(keep_empty=True)
        elif tag == "hr":
            self._flush()
            self.lines.append("_" * 32)
        elif tag == "blockquote":
            self._flush()
            self._depth += 1
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists.append(1 if tag == "ol" else None)
        elif tag == "li":
            self._flush()
            self._buf.append(self._bullet())
        elif tag in self.BLOCKS:
            self._pre += tag == "pre"
            self._flush()
        elif tag in ("td", "th"):
            self._buf.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._flush()
            self._depth = max(0, self._depth - 1)
        elif tag in ("ul", "ol"):
            self._flush()
            if self._lists:
                self._lists.pop()
        elif tag == "p":
            self._flush()
            self._append("")
        elif tag in self.BLOCKS:
            self._pre = max(0, self._pre - (tag == "pre"))
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._buf.append(first)
            for line in rest:
                self._flush(keep_empty=True)
                self._buf.append(line)
        else:
            self._buf.append(re.sub(r"\s+", " ", data))

    def _bullet(self) -> str:
        if not self._lists or self._lists[-1] is None:
            return "- "
        number = self._lists[-1]
        self._lists[-1] = number + 1
        return f"{number}. "

    def _flush(self, *, keep_empty: bool = False) -> None:
        line = "".join(self._buf).replace("\xa0", " ")
        line = line.rstrip() if self._pre else line.strip()
        self._buf = []
        if line or keep_empty:
            self._append(line)

    def _append(self, line: str) -> None:
        prefix = "> " * min(self._depth, MAX_QUOTE_DEPTH)
        self.lines.append((prefix + line).rstrip())

    def text(self) -> str:
        self._flush()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip("\n")


_TAG_OPEN = re.compile("<")
_HTML_CHUNK = 65_536  # html.parser copies its whole buffer at each feed: fed in pieces


def bounded_html(html: str, problems: list[str]) -> str:
    """The HTML up to `_MAX_HTML_CHARS` characters and `_MAX_HTML_TAGS` tags."""
    end = min(len(html), _MAX_HTML_CHARS)
    tag = next(itertools.islice(_TAG_OPEN.finditer(html, 0, end), _MAX_HTML_TAGS, None), None)
    end = tag.start() if tag else end
    if end < len(html):
        problems.append(
            f"HTML part cut to {_MAX_HTML_CHARS:,} characters and {_MAX_HTML_TAGS:,} tags"
        )
    return html[:end]


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (see `_HtmlText`); never raises."""
    parser = _HtmlText()
    try:
        for start in range(0, len(html), _HTML_CHUNK):
            parser.feed(html[start : start + _HTML_CHUNK])
        parser.close()
    except Exception:  # html.parser is lenient; this guards against surprises only
        return re.sub(r"<[^>]*>", " ", html)
    return parser.text()
