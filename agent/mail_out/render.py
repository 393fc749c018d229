"""Email rendering: jinja2 templates in, subject + text + HTML out.

Every email has a single source, ``templates/<name>.txt.j2``, which defines
two blocks:

``{% block subject %}``
    One line. Whitespace (including any CR/LF or Unicode line separator that
    comes in through a variable) is collapsed, so a subject can never start a
    second header line.
``{% block body %}``
    The text/plain body. A template usually ``{% extends "_base.txt.j2" %}``,
    which wraps the body in a greeting, a "how to answer" line, a sign-off and
    a footer (everything after the ``-- `` signature delimiter). The whole
    rendered document is then the body. A template that does not extend
    anything contributes only its ``body`` block.

The text/html alternative is derived from the rendered text by
`text_to_html` (everything is escaped first; see its docstring for the few
plain-text conventions it understands) and wrapped in ``_layout.html.j2``.
A program can replace the HTML of one email with ``<name>.html.j2``, which gets
the same context plus ``subject``, ``body_html`` and ``footer_html``.

Templates run in an `ImmutableSandboxedEnvironment` with `StrictUndefined`:
a template cannot reach Python internals or mutate its context, and a missing
variable is an error rather than an empty string. Every problem surfaces as a
single `TemplateError` naming the email, the file and the line.

Files whose name starts with ``_`` (``_base.txt.j2``, ``_layout.html.j2``) are
layouts and partials, not emails.

Languages (docs/languages.md): the top-level files are English; a translation is a
folder ``templates/<lang>/`` with the same file names (``pt`` holds Brazilian usage).
A program's own folder overrides one language with ``welcome.de.txt.j2`` and its
default language (``program.language``) with ``welcome.txt.j2``. Each email is
rendered in the first language of the recipient's chain (`language_chain`: ``pt-BR``,
``pt``, the program's default, ``en``) that has that email; every partial it uses comes
from the same language, so an email is either wholly translated or wholly in the
fallback language. A program that overrides an email in its default language but not
in another gets its own words in the default language rather than the shipped
translation without them. The HTML layout is shared: it takes ``lang`` and ``dir``.
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
import unicodedata
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, nodes
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from agent.config.confine import inside
from agent.config.names import greeting_name
from agent.mail_in.kept import visible
from agent.mail_out import locale_fmt

__all__ = [
    "RTL_LANGUAGES",
    "RenderedEmail",
    "Renderer",
    "TemplateError",
    "default_templates_dir",
    "first_name",
    "format_date",
    "format_time",
    "text_to_html",
]

TEXT_SUFFIX = ".txt.j2"
HTML_SUFFIX = ".html.j2"
LAYOUT = "_layout.html.j2"
BASE_LANGUAGE = "en"  # the language of the top-level default templates
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})

_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
_LANG_RE = re.compile(r"[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?")


# ---------------------------------------------------------------------------
# Public types


@dataclass(frozen=True)
class RenderedEmail:
    """One rendered email, ready to be put into a MIME message."""

    subject: str  # one line, whitespace collapsed, never contains CR/LF
    text: str  # text/plain body, ends with a single newline
    html: str  # text/html alternative: a complete HTML document, inline CSS only
    language: str = BASE_LANGUAGE  # BCP 47: the language it is written in (Content-Language)


class TemplateError(Exception):
    """A template could not be found, compiled or rendered.

    The message names the email, the template file and line, and the problem,
    e.g. ``email 'follow_up': follow_up.txt.j2 line 12: 'meeting' is undefined
    (/path/to/templates/follow_up.txt.j2)``. The same parts are available as
    attributes for callers that want to present them differently; the
    original jinja2 exception is chained as ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        email: str | None = None,
        template: str | None = None,
        filename: str | None = None,
        lineno: int | None = None,
        problem: str | None = None,
    ) -> None:
        super().__init__(message)
        self.email = email  # the email being rendered ("follow_up")
        self.template = template  # the template file's name ("_base.txt.j2")
        self.filename = filename  # its full path, when known
        self.lineno = lineno
        self.problem = problem if problem is not None else message


def default_templates_dir() -> Path:
    """The default templates shipped with mentormail.

    In a source checkout that is the repository's top-level ``templates/``;
    in an installed wheel it is ``<sys.prefix>/share/mentormail/templates``
    (see ``[tool.setuptools.data-files]`` in pyproject.toml).
    """
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "mentormail" / "templates"


# ---------------------------------------------------------------------------
# Filters (pure functions; also usable from Python)

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_date(value: date | datetime | str) -> str:
    """``date`` filter: ``Tuesday 2 March 2027``.

    Accepts a date, a datetime (shown in its own zone, not converted) or an
    ISO 8601 string; any other string is returned unchanged, so a caller may
    pass an already formatted date. English names, independent of the locale.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, date):  # datetime is a date subclass
        return f"{_DAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"
    raise TypeError(f"date filter expects a date, datetime or string, not {type(value).__name__}")


def format_time(value: datetime | time | str) -> str:
    """``time`` filter: 24-hour ``15:00`` (in the value's own zone).

    Accepts a datetime, a time or an ISO 8601 string; any other string is
    returned unchanged.
    """
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value.strip())
        except ValueError:
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                return value
    if isinstance(value, (datetime, time)):
        return f"{value.hour:02d}:{value.minute:02d}"
    raise TypeError(f"time filter expects a datetime, time or string, not {type(value).__name__}")


def _date_filter(value: date | datetime | str) -> str:
    """``date`` filter in the email's language (`format_date` in English)."""
    tag = locale_fmt.rendering_language()
    if locale_fmt.is_english(tag):
        return format_date(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return value  # already worded
    return locale_fmt.long_date(value, tag)


def _time_filter(value: datetime | time | str) -> str:
    """``time`` filter in the email's language (`format_time` in English)."""
    tag = locale_fmt.rendering_language()
    if locale_fmt.is_english(tag) or isinstance(value, str):
        return format_time(value)
    return locale_fmt.local_time(value, tag)


def _list_filter(values: Any) -> str:
    """``and_list`` filter: 'Ana, Daniel and Priya' in the email's language."""
    return locale_fmt.join([str(v) for v in values], locale_fmt.rendering_language())


def first_name(value: Any) -> str:
    """``first_name`` filter: the name to greet a person by ("Rachel" for "Dr Rachel
    O'Neill", "李小龙" whole; see agent.config.names).

    Takes a person mapping (its ``first_name``, which honours a participant's
    ``short_name``; else a guess from its ``name``), an object with those attributes,
    or a plain name string (a sender's display name). Returns "" when there is
    nothing to go on.
    """
    if isinstance(value, Mapping):
        given, full = value.get("first_name"), value.get("name")
    elif isinstance(value, str):
        given, full = None, value
    else:
        given, full = getattr(value, "first_name", None), getattr(value, "name", None)
    if isinstance(given, str) and given.strip():
        return " ".join(given.split())
    return greeting_name(full) if isinstance(full, str) else ""


def quote(value: str) -> str:
    """``quote`` filter: prefix every line with ``> `` (e-mail quoting)."""
    lines = str(value).replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    return "\n".join(f"> {line}".rstrip() for line in lines)


def oneline(value: str) -> str:
    """``oneline`` filter: collapse all whitespace (newlines too) to single spaces."""
    return " ".join(str(value).split())


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``plural`` filter: ``{{ 3|plural("meeting") }}`` -> ``3 meetings``."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


# ---------------------------------------------------------------------------
# Text -> HTML

_FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
_STYLE_P = "margin:0 0 16px;"
_STYLE_P_TIGHT = "margin:0 0 4px;"
_STYLE_LIST = "margin:0 0 16px;padding-left:24px;"
_STYLE_LIST_TIGHT = "margin:0 0 4px;padding-left:24px;"
_STYLE_LI = "margin:0 0 4px;"
_STYLE_QUOTE = "margin:0 0 16px;padding:4px 0 4px 12px;border-left:3px solid #d0d7de;color:#57606a;"
_STYLE_A = "color:#1a56db;text-decoration:underline;"

_BULLET_RE = re.compile(r"^[-•]\s+(.*)$")
_NUMBER_RE = re.compile(r"^(\d{1,3})[.)]\s+(.*)$")
_QUOTE_RE = re.compile(r"^>\s?(.*)$")
_INLINE_RE = re.compile(
    r"(?P<url>https?://[^\s<>\"'`]+)"
    r"|(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|\*\*(?P<bold>[^*\n]+?)\*\*"
)
_URL_TRAILING = ".,;:!?"
_MAX_QUOTE_DEPTH = 4


@dataclass
class _Segment:
    kind: str  # "p", "ul", "ol", "quote"
    lines: list[str]  # paragraph/quote lines
    items: list[list[str]]  # list items, each a list of lines
    start: int = 1  # first number of an ordered list


def _trim_url(url: str) -> tuple[str, str]:
    """Split trailing punctuation (and an unbalanced ")") off a matched URL."""
    tail = ""
    while url:
        last = url[-1]
        if last in _URL_TRAILING or (last == ")" and url.count("(") < url.count(")")):
            tail = last + tail
            url = url[:-1]
        else:
            break
    return url, tail


def _inline(text: str) -> str:
    """Escape one line of text and turn URLs, e-mail addresses and **bold** into HTML."""
    out: list[str] = []
    pos = 0
    for m in _INLINE_RE.finditer(text):
        out.append(str(escape(text[pos : m.start()])))
        pos = m.end()
        if m.group("url"):
            url, tail = _trim_url(m.group("url"))
            out.append(f'<a href="{escape(url)}" style="{_STYLE_A}">{escape(url)}</a>')
            out.append(str(escape(tail)))
        elif m.group("email"):
            addr = m.group("email").rstrip(".")
            tail = m.group("email")[len(addr) :]
            out.append(f'<a href="mailto:{escape(addr)}" style="{_STYLE_A}">{escape(addr)}</a>')
            out.append(str(escape(tail)))
        else:
            out.append(f"<strong>{_inline(m.group('bold'))}</strong>")
    out.append(str(escape(text[pos:])))
    return "".join(out)


def _segments(lines: list[str]) -> list[_Segment]:
    segments: list[_Segment] = []
    current: _Segment | None = None

    def start(kind: str, first: int = 1) -> _Segment:
        segment = _Segment(kind, [], [], first)
        segments.append(segment)
        return segment

    for line in lines:
        if not line.strip():
            current = None
            continue
        if m := _QUOTE_RE.match(line):
            if current is None or current.kind != "quote":
                current = start("quote")
            current.lines.append(m.group(1))
        elif m := _BULLET_RE.match(line):
            if current is None or current.kind != "ul":
                current = start("ul")
            current.items.append([m.group(1)])
        elif m := _NUMBER_RE.match(line):
            if current is None or current.kind != "ol":
                current = start("ol", int(m.group(1)))
            current.items.append([m.group(2)])
        elif current is not None and current.kind in ("ul", "ol") and line[:1].isspace():
            current.items[-1].append(line.strip())  # continuation of a list item
        else:
            if current is None or current.kind != "p":
                current = start("p")
            current.lines.append(line.strip())
    return segments


def _to_html(text: str, depth: int) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    segments = _segments(lines)
    out: list[str] = []
    for i, seg in enumerate(segments):
        following = segments[i + 1] if i + 1 < len(segments) else None
        if seg.kind == "p":
            # An intro line ending with ":" stays visually attached to its list.
            tight = seg.lines[-1].endswith(":") and following is not None and following.kind != "p"
            body = "<br>\n".join(_inline(line) for line in seg.lines)
            out.append(f'<p style="{_STYLE_P_TIGHT if tight else _STYLE_P}">{body}</p>')
        elif seg.kind in ("ul", "ol"):
            start_attr = f' start="{seg.start}"' if seg.kind == "ol" and seg.start != 1 else ""
            items = "\n".join(
                f'<li style="{_STYLE_LI}">' + "<br>\n".join(_inline(x) for x in item) + "</li>"
                for item in seg.items
            )
            style = _STYLE_LIST_TIGHT if following and following.kind == "quote" else _STYLE_LIST
            out.append(f'<{seg.kind}{start_attr} style="{style}">\n{items}\n</{seg.kind}>')
        else:
            inner = "\n".join(seg.lines)
            if depth < _MAX_QUOTE_DEPTH:
                content = _to_html(inner, depth + 1)
            else:
                content = "<br>\n".join(_inline(line) for line in seg.lines)
            out.append(f'<blockquote style="{_STYLE_QUOTE}">\n{content}\n</blockquote>')
    return "\n".join(out)


def text_to_html(text: str) -> Markup:
    """Convert a plain-text email body to an HTML fragment, safely.

    All text is HTML-escaped; the only markup produced is:

    * paragraphs, split at blank lines (single line breaks become ``<br>``);
    * ``<ul>`` for consecutive lines starting with ``- `` or ``• ``, and
      ``<ol>`` for lines starting with ``1. `` (the first number is kept);
      an indented line continues the list item above it;
    * ``<blockquote>`` for lines starting with ``>``;
    * links for ``http(s)://`` URLs and ``mailto:`` links for e-mail
      addresses, and ``<strong>`` for ``**text**``;
    * a paragraph whose last line ends with ``:`` keeps a tight margin to
      the list or quote that follows it, so the two read as one unit.
    """
    return Markup(_to_html(text, 0))


def _split_signature(text: str) -> tuple[str, str]:
    """Split a body at its last ``-- `` signature delimiter (RFC 3676 4.3)."""
    lines = text.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].rstrip() == "--":
            return "\n".join(lines[:i]), "\n".join(lines[i + 1 :])
    return text, ""


# ---------------------------------------------------------------------------
# Normalisation


def _clean_subject(raw: str) -> str:
    """One line: control characters and line/paragraph separators become spaces."""
    chars = (" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in raw)
    return " ".join("".join(chars).split())


def _tidy_text(raw: str) -> str:
    """Strip trailing spaces, squeeze runs of blank lines, end with one newline.

    Templates can then use conditionals freely without leaving holes. The
    signature delimiter keeps its trailing space ("-- ").
    """
    out: list[str] = []
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = "-- " if line.rstrip() == "--" else line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def _autoescape(template_name: str | None) -> bool:
    return template_name is not None and template_name.endswith((".html.j2", ".html", ".htm"))


def _suffixed(name: str, language: str) -> str:
    """``welcome.txt.j2`` -> ``welcome.de.txt.j2``: a program's override for one language."""
    stem, dot, rest = name.partition(".")
    return f"{stem}.{language}{dot}{rest}"


class _ConfinedLoader(FileSystemLoader):
    """A folder's templates, refusing a name that resolves outside the folder (a link
    to /etc/passwd would otherwise be mailed out as an email's text); see agent.config.confine.

    ``rename`` maps a template name to the file that holds it here (a language's
    ``welcome.de.txt.j2``); ``only`` limits the folder to some names (the shared layout).
    """

    def __init__(
        self,
        folder: str,
        rename: Callable[[str], str] | None = None,
        only: frozenset[str] | None = None,
    ) -> None:
        super().__init__(folder, encoding="utf-8")
        self._rename = rename
        self._only = only

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        if self._only is not None and template not in self._only:
            raise jinja2.TemplateNotFound(template)
        file_name = self._rename(template) if self._rename else template
        folder = self.searchpath[0]
        path = posixpath.join(folder, *split_template_path(file_name))
        if os.path.lexists(path) and not inside(folder, path):
            raise TemplateError(
                f"template {template} in {folder} resolves to {os.path.realpath(path)}, "
                "outside that folder; refused (put the file itself in the folder)",
                template=template,
                filename=path,
                problem="resolves outside the template folder",
            )
        return super().get_source(environment, file_name)


# ---------------------------------------------------------------------------
# Renderer


class Renderer:
    """Renders the email templates, with a program's own overrides on top.

    ``override_dir`` is a program's template folder: any file in it wins over
    the default of the same name, file by file (so overriding ``welcome.txt.j2``
    leaves every other email, ``_base.txt.j2`` and the HTML layout as shipped).
    ``default_language`` is the program's (``program.language``): the language of
    the plain names in ``override_dir`` and the fallback of every email; a context's
    ``program.language`` takes its place. Raises `TemplateError` when
    ``override_dir`` is given but is not a folder.
    """

    def __init__(self, override_dir: Path | None = None, default_language: str = "en") -> None:
        self.defaults_dir = default_templates_dir()
        self.override_dir = Path(override_dir) if override_dir is not None else None
        if self.override_dir is not None and not self.override_dir.is_dir():
            raise TemplateError(f"template folder {self.override_dir} does not exist")
        self.default_language = default_language
        search = [self.override_dir] if self.override_dir is not None else []
        search.append(self.defaults_dir)
        self._dirs: list[Path] = search
        self._extends_known: weakref.WeakKeyDictionary[jinja2.Template, bool] = (
            weakref.WeakKeyDictionary()
        )
        self._envs: dict[tuple[str, str], ImmutableSandboxedEnvironment] = {}

    def _env(self, language: str, default: str) -> ImmutableSandboxedEnvironment:
        """The environment of one language's template set (see the module docstring)."""
        key = (language, default)
        if key in self._envs:
            return self._envs[key]
        loaders: list[jinja2.BaseLoader] = []
        if self.override_dir is not None:
            loaders.append(
                _ConfinedLoader(str(self.override_dir), lambda n: _suffixed(n, language))
            )
            if language == default:
                loaders.append(_ConfinedLoader(str(self.override_dir)))
        shipped = self._shipped_dir(language)
        if shipped is not None:
            loaders.append(_ConfinedLoader(str(shipped)))
        if language != BASE_LANGUAGE:  # the layout is shared by every language
            layout = frozenset({LAYOUT})
            if self.override_dir is not None:
                loaders.append(_ConfinedLoader(str(self.override_dir), only=layout))
            loaders.append(_ConfinedLoader(str(self.defaults_dir), only=layout))
        env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=_autoescape,
        )
        env.filters.update(
            date=_date_filter,
            time=_time_filter,
            and_list=_list_filter,
            first_name=first_name,
            quote=quote,
            oneline=oneline,
            plural=plural,
        )
        self._envs[key] = env
        return env

    def _shipped_dir(self, language: str) -> Path | None:
        if language == BASE_LANGUAGE:
            return self.defaults_dir
        folder = self.defaults_dir / language
        return folder if folder.is_dir() else None

    def names(self) -> list[str]:
        """The email templates available (layouts and partials excluded), sorted."""
        found: set[str] = set()
        for folder in self._dirs:
            if not folder.is_dir():
                continue
            for path in folder.glob(f"*{TEXT_SUFFIX}"):
                name = path.name.removesuffix(TEXT_SUFFIX)
                if _NAME_RE.fullmatch(name):
                    found.add(name)
        return sorted(found)

    def languages(self) -> list[str]:
        """The languages with templates: shipped folders, `en` and the program's
        ``<name>.<lang>.txt.j2`` overrides, sorted."""
        found = {BASE_LANGUAGE}
        found.update(
            d.name for d in self.defaults_dir.iterdir() if d.is_dir() and _LANG_RE.fullmatch(d.name)
        )
        if self.override_dir is not None:
            for path in self.override_dir.glob(f"*.*{TEXT_SUFFIX}"):
                tag = path.name.removesuffix(TEXT_SUFFIX).partition(".")[2]
                if _LANG_RE.fullmatch(tag):
                    found.add(tag)
        return sorted(found)

    def has(self, name: str, language: str, default: str | None = None) -> bool:
        """Whether email ``name`` is written in ``language`` (shipped or the program's)."""
        default = default or self.default_language
        file_name = name + TEXT_SUFFIX
        override = self.override_dir
        if override is not None and (override / _suffixed(file_name, language)).is_file():
            return True
        if override is not None and (override / file_name).is_file():
            # the program's own words, in its default language, win over a shipped translation
            return language == default
        shipped = self._shipped_dir(language)
        return shipped is not None and (shipped / file_name).is_file()

    def language_of(self, name: str, wanted: str | None, default: str | None = None) -> str:
        """The language email ``name`` is rendered in for someone who reads ``wanted``."""
        default = default or self.default_language
        for language in locale_fmt.language_chain(wanted, default):
            if self.has(name, language, default):
                return language
        return BASE_LANGUAGE

    def render(
        self, name: str, context: Mapping[str, Any], language: str | None = None
    ) -> RenderedEmail:
        """Render email ``name`` with ``context`` (see the context contract in the
        templates' header comments), in ``language`` or else the context's ``language``
        (the recipient's), falling back per `language_of`. Raises `TemplateError` on
        any problem."""
        if not _NAME_RE.fullmatch(name):
            raise TemplateError(f"{name!r} is not an email template name", email=name)
        program = context.get("program")
        default = self.default_language
        if isinstance(program, Mapping) and isinstance(program.get("language"), str):
            default = program["language"]
        wanted = language or context.get("language") or default
        chosen = self.language_of(name, wanted, default)
        # the recipient's own tag words dates when its set is the one chosen (pt-BR in pt)
        tag = wanted if wanted == chosen or wanted.startswith(chosen + "-") else chosen
        env = self._env(chosen, default)
        variables = {
            **context,
            "lang": tag,
            "dir": "rtl" if tag.split("-")[0] in RTL_LANGUAGES else "ltr",
        }
        with self._errors(name), locale_fmt.wording_in(tag):
            template = self._load(env, name, name + TEXT_SUFFIX, required=True)
            assert template is not None
            subject, text = self._render_text(name, template, variables)
            body_text, footer_text = _split_signature(text)
            html_vars = {
                **variables,
                "subject": subject,
                "body_html": text_to_html(body_text),
                "footer_html": text_to_html(footer_text),
            }
            html_template = self._load(env, name, name + HTML_SUFFIX, required=False)
            if html_template is None:
                html_template = self._load(env, name, LAYOUT, required=True)
                assert html_template is not None
            html = self._render_document(html_template, html_vars)
        # received text (a quoted reply, a goal) may hold lone surrogates: shown as U+FFFD
        return RenderedEmail(
            subject=visible(subject),
            text=visible(text),
            html=visible(html.strip() + "\n"),
            language=tag,
        )

    def export(self, dest: Path, language: str | None = None) -> list[Path]:
        """Copy the default templates into ``dest`` to start overriding them.

        With ``language``, the shipped translation, named for overriding that
        language (``welcome.de.txt.j2``). Existing files are never overwritten.
        Returns the files written. Raises `TemplateError` for a language not shipped.
        """
        dest = Path(dest)
        source_dir = self.defaults_dir
        if language is not None and language != BASE_LANGUAGE:
            found = self._shipped_dir(language)
            if found is None:
                shipped = ", ".join(self.languages())
                raise TemplateError(f"no shipped templates in {language!r}; shipped: {shipped}")
            source_dir = found
        dest.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for source in sorted(source_dir.iterdir()):
            if not source.is_file() or not source.name.endswith(".j2"):
                continue
            if language is not None and language != BASE_LANGUAGE and source.name == LAYOUT:
                continue  # shared by every language
            name = (
                source.name
                if source_dir == self.defaults_dir
                else _suffixed(source.name, language or "")
            )
            target = dest / name
            try:
                with target.open("xb") as out:  # "x": fail rather than overwrite
                    out.write(source.read_bytes())
            except FileExistsError:
                continue
            written.append(target)
        return written

    # -- internals ---------------------------------------------------------

    def _load(
        self, env: jinja2.Environment, email: str, template_name: str, *, required: bool
    ) -> jinja2.Template | None:
        try:
            return env.get_template(template_name)
        except jinja2.TemplateNotFound as exc:
            if exc.name != template_name:
                raise
            if not required:
                return None
            places = ", ".join(str(d) for d in self._dirs)
            raise TemplateError(
                f"email {email!r}: no template {template_name} (looked in {places})",
                email=email,
                template=template_name,
                problem="template not found",
            ) from exc

    def _render_text(
        self, email: str, template: jinja2.Template, variables: dict[str, Any]
    ) -> tuple[str, str]:
        context = template.new_context(variables)
        whole = "".join(template.root_render_func(context))
        blocks = context.blocks  # after the root render: the whole chain, most derived first
        for required in ("subject", "body"):
            if not blocks.get(required):
                raise TemplateError(
                    f"email {email!r}: {template.name} has no {{% block {required} %}}",
                    email=email,
                    template=template.name,
                    filename=template.filename,
                    problem=f"no {required} block",
                )
        # An extending template's whole output is the body (greeting, sign-off,
        # footer from the base); a standalone one contributes its body block only.
        body = whole if self._extends(template) else "".join(blocks["body"][0](context))
        subject = _clean_subject("".join(blocks["subject"][0](context)))
        if not subject:
            raise TemplateError(
                f"email {email!r}: {template.name}: the subject is empty",
                email=email,
                template=template.name,
                filename=template.filename,
                problem="empty subject",
            )
        return subject, _tidy_text(body)

    def _render_document(self, template: jinja2.Template, variables: dict[str, Any]) -> str:
        context = template.new_context(variables)
        return "".join(template.root_render_func(context))

    def _extends(self, template: jinja2.Template) -> bool:
        """Whether the template extends another; parsed once per loaded template (a
        changed file is a new template object, jinja2 reloads it)."""
        known = self._extends_known.get(template)
        if known is None:
            env = template.environment
            loader = env.loader
            assert loader is not None and template.name is not None
            source, _, _ = loader.get_source(env, template.name)
            tree = env.parse(source, template.name, template.filename)
            known = self._extends_known[template] = tree.find(nodes.Extends) is not None
        return known

    @contextmanager
    def _errors(self, email: str) -> Iterator[None]:
        """Turn any exception raised by jinja2 or a template into a TemplateError."""
        try:
            yield
        except TemplateError:
            raise
        except jinja2.TemplateSyntaxError as exc:
            raise _error(
                email, exc.name, exc.filename, exc.lineno, exc.message or str(exc)
            ) from exc
        except Exception as exc:
            if isinstance(exc, jinja2.TemplateNotFound):
                problem = f"template {exc.name!r} not found"
            elif isinstance(exc, jinja2.TemplateError):
                problem = exc.message or str(exc)
            else:
                problem = f"{type(exc).__name__}: {exc}"
            name, filename, lineno = _template_location(exc.__traceback__)
            raise _error(email, name, filename, lineno, problem) from exc


def _template_location(tb: TracebackType | None) -> tuple[str | None, str | None, int | None]:
    """The innermost template frame of a traceback: (name, filename, line).

    Template code runs in modules whose globals hold ``__jinja_template__``;
    jinja2 itself maps the generated Python line back to the template line.
    """
    found: tuple[str | None, str | None, int | None] = (None, None, None)
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(template, jinja2.Template):
            found = (
                template.name,
                template.filename,
                template.get_corresponding_lineno(tb.tb_lineno),
            )
        tb = tb.tb_next
    return found


def _error(
    email: str, name: str | None, filename: str | None, lineno: int | None, problem: str
) -> TemplateError:
    where = name or (Path(filename).name if filename else None) or f"{email}{TEXT_SUFFIX}"
    if lineno:
        where += f" line {lineno}"
    message = f"email {email!r}: {where}: {problem}"
    if filename:
        message += f" ({filename})"
    return TemplateError(
        message, email=email, template=name, filename=filename, lineno=lineno, problem=problem
    )
