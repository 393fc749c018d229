"""The new part of an HTML reply, found from the mail clients' own markup, in any language.

Mail clients mark the history they quote in their HTML: Gmail wraps it in
`div.gmail_quote`, Apple Mail and Thunderbird in `blockquote[type=cite]`, Outlook starts
it at `#appendonsend`, `#divRplyFwdMsg` or a `border-top` block of bold `From:` labels,
Yahoo in `.yahoo_quoted`, Zimbra, Proton, Zoho, GMX and Roundcube with markers of their
own. The markup is the same whatever language the quote header is written in, so this
finds history that the text rules of `reply_text` (one table row per language) miss.

Two kinds of marker (`MARKERS`): a *quote* is removed with what it holds (text written
between quotes, inline replies, stays); a *cut* starts the history: it and everything
after it in document order go. The rest is turned into text (`html_text`) and handed to
`strip_reply` for what markup does not show: signatures, sign-offs, `>` lines.

The HTML is parsed with selectolax (the Lexbor engine): an HTML5 parser, so a broken
message gives the tree the client's browser engine saw, in linear time and without
recursion in Python, and CSS selectors run in C. The input is already bounded by
`html_text.bounded_html`; the Python work after the parse is bounded by `_MAX_CUTS` and
`_LEADING_NODES`, so hostile nesting costs no more than the parse.

selectolax is imported when the first HTML reply is read: commands that read no mail
never load it (tests/test_lazy_imports.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from agent.mail_in.html_text import html_to_text
from agent.mail_in.mime_body import head
from agent.mail_in.reply_text import strip_reply

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser, LexborNode

# Client: CSS selector. Quotes are removed with their content.
QUOTES: dict[str, str] = {
    "Gmail": "div.gmail_quote, blockquote.gmail_quote, div.gmail_quote_container",
    "Apple Mail, iOS Mail, Thunderbird, Roundcube": 'blockquote[type="cite"]',
    "Thunderbird (quote header)": "div.moz-cite-prefix",
    "Roundcube (quote header)": "#reply-intro",
    "Yahoo, AOL": "div.yahoo_quoted",
    "Zimbra": 'div[data-marker="__QUOTED_TEXT__"]',
    "Proton Mail": "div.protonmail_quote, blockquote.protonmail_quote",
    "Zoho Mail": "div.zmail_extra, blockquote.zmail_extra",
    "GMX, web.de": 'div[name="quote"]',
    "Fastmail": "div#qt",
}
# Client: CSS selector. A cut removes the element and everything after it.
CUTS: dict[str, str] = {
    "Outlook on the web, Outlook desktop (new)": "#appendonsend, #divRplyFwdMsg, #x_divRplyFwdMsg",
    "Outlook for iOS and Android": (
        "#mail-editor-reference-message-container, #ms-outlook-mobile-body-separator-line"
    ),
    "Outlook for Mac": "#OLK_SRC_BODY_SECTION",
    "Outlook 2003, Exchange": "div.OutlookMessageHeader",
    "Thunderbird (forward)": "div.moz-forward-container",
    "Zimbra (divider)": 'hr[data-marker="__DIVIDER__"], hr#zwchr',
}
# Outlook desktop, any language: the header block is a div with a top border whose text
# starts with bold labels ("From:", "Von:", "差出人:" ...).
_BORDER_TOP = 'div[style*="border-top"]'
_LABELLED = re.compile(r"^\s*[^\s:：]{1,30}(?:\s[^\s:：]{1,20}){0,2}\s?[:：]")
# Clients' signature blocks: not what the sender wrote this time.
SIGNATURES = (
    "div.gmail_signature, div.moz-signature, pre.moz-signature, "
    "div.protonmail_signature_block, #ms-outlook-mobile-signature"
)
# An HTML5 tree builder looks through the open elements at many tags: deeper nesting
# than mail clients write (a long Gmail thread is about 100 levels) costs the square.
MAX_NESTING = 400
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")
# Never nest: void elements, and those whose end tags clients leave out.
_FLAT = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    | {"track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "colgroup"}
)
_MAX_CUTS = 50  # cut markers tried, each costing a walk up the tree
_LEADING_NODES = 40  # nodes read for the leading text of a border-top block
_LEADING_CHARS = 200


def reply_from_html(html: str, max_chars: int) -> str | None:
    """The new text of an HTML reply, or None where no client markup shows the history.

    None, too, when the markup would leave nothing: then the text rules decide. At most
    `max_chars` characters of the remaining text are handed to `strip_reply`.
    """
    from selectolax.lexbor import LexborHTMLParser  # loaded with the first HTML reply

    if _nesting(html) > MAX_NESTING:
        return None
    tree = LexborHTMLParser(html)
    if tree.body is None:
        return None
    found = _remove_quotes(tree)
    found = _cut_history(tree) or found
    if not found:
        return None
    for node in tree.css(SIGNATURES):
        node.remove()
    text = strip_reply(head(html_to_text(tree.body.html or ""), max_chars))
    return text or None


def _nesting(html: str) -> int:
    """How deep elements nest, counting start and end tags: an upper bound, read in one pass."""
    depth = deepest = 0
    for match in _TAG.finditer(html):
        if match.group(2).lower() in _FLAT:
            continue
        depth = max(0, depth - 1) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
    return deepest


def _remove_quotes(tree: LexborHTMLParser) -> bool:
    """Detach every quote element; one inside another is detached from its copy, harmlessly."""
    nodes = tree.css(", ".join(QUOTES.values()))
    for node in nodes:
        node.remove()
    return bool(nodes)


def _cut_history(tree: LexborHTMLParser) -> bool:
    """Cut at the first cut marker, in document order, that is still in the document."""
    root = tree.root
    markers = tree.css(", ".join([*CUTS.values(), _BORDER_TOP]))[:_MAX_CUTS]
    for node in markers:
        if _is_border_top(node) and not _is_header_block(node):
            continue
        ancestors = _ancestors(node)
        if root is not None and any(a.mem_id == root.mem_id for a in ancestors[-2:]):
            _cut_from(node, ancestors)
            return True
    return False


def _is_border_top(node: LexborNode) -> bool:
    return node.tag == "div" and "border-top" in (node.attributes.get("style") or "")


def _ancestors(node: LexborNode) -> list[LexborNode]:
    """The node's parent, grandparent, ... up to the root (or a detached subtree's top)."""
    chain = []
    parent = node.parent
    while parent is not None:
        chain.append(parent)
        parent = parent.parent
    return chain


def _cut_from(node: LexborNode, ancestors: list[LexborNode]) -> None:
    """Remove `node`, what follows it, and what follows each ancestor below <body>."""
    doomed = [node]
    previous = node.prev
    while previous is not None and previous.is_empty_text_node:
        previous = previous.prev
    if previous is not None and previous.tag == "hr":  # Outlook's rule above the header
        doomed.append(previous)
    for current in [node, *ancestors]:
        if current.tag in ("body", "html"):
            break
        sibling = current.next
        while sibling is not None:
            doomed.append(sibling)
            sibling = sibling.next
    for doomed_node in doomed:
        doomed_node.remove()


def _is_header_block(node: LexborNode) -> bool:
    """A border-top div that starts with two labelled lines, bold as Outlook writes them."""
    text = _leading_text(node)
    return bool(_LABELLED.match(text)) and node.css_first("b, strong") is not None


def _leading_text(node: LexborNode) -> str:
    """The first `_LEADING_CHARS` characters of text in `node`, reading few nodes."""
    parts: list[str] = []
    size = 0
    for count, child in enumerate(node.traverse(include_text=True)):
        if count >= _LEADING_NODES or size >= _LEADING_CHARS:
            break
        if child.is_text_node:
            value = child.text_content or ""
            parts.append(value)
            size += len(value)
    return "".join(parts).replace("\xa0", " ")[:_LEADING_CHARS]
