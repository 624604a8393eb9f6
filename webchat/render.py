"""Markdown -> safe HTML for chat messages (server-side, used by templates only).

Model output is untrusted: a prompt injection can make a model write anything. So rendering is
two layers. markdown-it-py runs with raw HTML disabled and our own URL policy; then nh3 cleans the
result against an explicit allowlist, so a bug in the first layer (or in a plugin) still cannot put
a script, an event handler, an ``hx-*``/``data-hx-*`` attribute (htmx 4 acts on both) or a remote
image into the page. Math becomes MathML on the server (latex2mathml), code is highlighted by
Pygments with CSS classes (see ``code_css``). Everything costly is built once at import; the
renderer is called every ~250 ms on a growing reply, so finished code blocks and formulas are
cached.

Rendering has a CPU budget (``RENDER_BUDGET_SECONDS`` per message): the text is untrusted, and
markdown-it-py and several Pygments lexers take seconds on some inputs (runs of ``[``, a fence
named ``csharp`` over many short lines). The budget is checked between markdown-it's steps and
Pygments' tokens, so no step runs long unseen; when it runs out, code is shown without colours,
and a message that cannot be formatted in time is shown as plain text with a note. Under gevent
a render never holds the event loop much longer than the budget. Measured by
``bench/render_budget.py``, checked for every lexer by ``tests/test_render_budget.py``.

Regenerate the stylesheet with:  python -m webchat.render > static/css/code.css
"""

from __future__ import annotations

import gc
import re
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Literal
from xml.etree.ElementTree import tostring

import nh3
from latex2mathml.converter import convert_to_element
from markdown_it import MarkdownIt, rules_inline
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import format as format_tokens
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_all_lexers, get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "code_css",
    "render_inline",
    "render_markdown",
    "render_plain",
]

# --------------------------------------------------------------------------- CPU budget

RENDER_BUDGET_SECONDS = 0.05
# Code longer than this is shown without colours whatever the budget: nobody reads colours in a
# 20,000-character block, and the cost of a lexer grows with it.
HIGHLIGHT_MAX_CHARS = 20_000
# The clock is read every CHECK_EVERY steps (a read costs ~0.5 µs; a step, 2-20 µs; a token of
# the slowest lexers, up to a few ms).
CHECK_EVERY = 4


class OverBudget(Exception):
    """The render's CPU budget ran out."""


# CPU seconds the garbage collector has spent in this process, kept by gc.callbacks. A collection
# that happens to run during a render is the process's cost, not the message's: a busy server
# (600 lexers compiled, say) can spend 30 ms in one, which would turn an ordinary reply plain.
_gc_spent = 0.0
_gc_started = 0.0


def _time_gc(phase: str, info: dict[str, Any]) -> None:
    global _gc_spent, _gc_started
    if phase == "start":
        _gc_started = time.thread_time()
    else:
        _gc_spent += time.thread_time() - _gc_started


gc.callbacks.append(_time_gc)


class Budget:
    """The CPU time one render may take, in this thread, not counting the garbage collector (not
    wall time: a busy machine must not change what a message looks like, only how long it takes)."""

    __slots__ = ("compiled", "deadline", "gc_before", "seconds", "steps")

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = RENDER_BUDGET_SECONDS if seconds is None else seconds
        self.compiled = False  # has this render built a new lexer (see _COMPILED)?
        self.deadline = time.thread_time() + self.seconds
        self.gc_before = _gc_spent
        self.steps = 0

    def step(self) -> None:
        """Count one step of work; raise OverBudget when the time is up."""
        self.steps += 1
        if self.steps % CHECK_EVERY == 0 and self.left() < 0:
            raise OverBudget

    def left(self) -> float:
        return self.deadline + (_gc_spent - self.gc_before) - time.thread_time()


# --------------------------------------------------------------------------- URL policy

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Browsers drop ASCII whitespace and C0 controls inside a scheme ("java\tscript:"), so we do too
# before deciding; the decision is made on the squashed form, the original value is kept.
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[a-z0-9+/=%]*\Z")
# "." / ".." path segments (also percent-encoded) and backslashes could walk an own-file URL
# out of files_prefix to another same-origin endpoint (an <img> GET is a free CSRF).
_PATH_ESCAPE = re.compile(r"(?:^|/)(?:\.|%2e){1,2}(?:[/?#]|\Z)|\\")


def _squash(url: str) -> str:
    return _IGNORED_IN_URL.sub("", url).lower()


def link_allowed(url: str) -> bool:
    """True for http(s), mailto and scheme-less (relative) URLs: the only links we keep."""
    match = _SCHEME.match(_squash(url))
    return match is None or match.group(1) in LINK_SCHEMES


def image_allowed(url: str, files_prefix: str) -> bool:
    """True for our own uploads and inline raster data: anything else would load a remote
    resource when the message is shown, leaking that it was read (and what, via the URL)."""
    squashed = _squash(url)
    if _DATA_IMAGE.match(squashed):
        return True
    if squashed.startswith(("//", "/\\")) or not squashed.startswith(files_prefix.lower()):
        return False  # "//host/x" is protocol-relative: remote, whatever the prefix
    return _PATH_ESCAPE.search(squashed[len(files_prefix) :]) is None


def _check_prefix(files_prefix: str) -> None:
    if not files_prefix.startswith("/") or files_prefix.startswith(("//", "/\\")):
        raise ValueError(f"files_prefix must be a site-relative path like '/files/', not {files_prefix!r}")


# --------------------------------------------------------------------------- code


_FORMATTER = HtmlFormatter(nowrap=True)  # classes only, no inline styles
_LANG_NAME = re.compile(r"[\w+#.\-]{1,40}")
# Pygments token classes ("k", "s2", ...) and one language class per lexer (its first alias).
PYGMENTS_CLASSES = frozenset(c for c in STANDARD_TYPES.values() if c)
LANGUAGE_CLASSES = frozenset(f"language-{aliases[0]}" for _, aliases, _, _ in get_all_lexers() if aliases)


_CURRENT: ContextVar[Budget | None] = ContextVar("render_budget", default=None)


@lru_cache(maxsize=256)
def _lexer(lang: str) -> Lexer | None:
    """Lexer for a fence's language name; never guesses (guessing is slow and often wrong).

    Its token streams count against the current render's budget (see ``_counted``).
    """
    if not _LANG_NAME.fullmatch(lang):
        return None
    try:
        return _counted(get_lexer_by_name(lang, stripnl=False))
    except ClassNotFound:
        return None


# Languages whose lexer has been built in this process. Building one compiles its regular
# expressions (up to ~0.3 s for the largest grammars, once), which no token boundary interrupts;
# so one render builds at most one new lexer, and only with budget left.
_COMPILED: set[str] = set()


def _counted(lexer: Lexer) -> Lexer:
    """Make every token ``lexer`` produces a step of the current budget, its inner lexers' too.

    A template lexer (``html+ng2``) first runs its language lexer over the whole text and only
    then yields, so counting its output alone would see nothing for seconds.
    """
    for inner in ("root_lexer", "language_lexer"):
        if isinstance(getattr(lexer, inner, None), Lexer):
            _counted(getattr(lexer, inner))
    _count_silent_rules(type(lexer))
    tokens = lexer.get_tokens_unprocessed

    def counted(text: str, *args: Any, **kwargs: Any) -> Iterator[tuple[int, object, str]]:
        budget = _CURRENT.get()
        for token in tokens(text, *args, **kwargs):  # (``using(this, state=...)`` passes a stack)
            if budget is not None:
                budget.step()
            yield token

    lexer.get_tokens_unprocessed = counted  # type: ignore[method-assign]
    return lexer


def _count_silent_rules(cls: type[Lexer]) -> None:
    """Make each try of a rule that yields no token (``default('#pop')``, a ``None`` action) a
    step too: a lexer can loop on those alone (``{`` x 8000 in ``tads3`` pops 8000 states at
    the end, 0.25 s, without a token). Done once per class, on its compiled rules."""
    rules = cls.__dict__.get("_tokens")
    if not isinstance(rules, dict) or cls.__dict__.get("_webchat_counted"):
        return
    for state, entries in rules.items():
        rules[state] = [
            (_counted_match(match) if action is None else match, action, new_state)
            for match, action, new_state in entries
        ]
    cls._webchat_counted = True  # type: ignore[attr-defined]


def _counted_match(match: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any) -> Any:
        budget = _CURRENT.get()
        if budget is not None:
            budget.step()
        return match(*args)

    return counted


# Finished blocks, highlighted or found too costly to highlight (a streaming reply re-renders
# them every tick); bounded like an lru_cache, oldest first out.
_CODE_CACHE: dict[tuple[str, str], str] = {}
_CODE_CACHE_SIZE = 256


def _plain_code(code: str) -> str:
    return f"<pre><code>{escapeHtml(code)}</code></pre>\n"


def _code_block(code: str, lang: str, budget: Budget) -> str:
    """One fenced block as HTML: highlighted within the budget, else plain.

    A block that alone took half the budget is remembered as plain: it is costly in itself, not
    only late in a costly message, and must not cost the budget again on every view.
    """
    key = (code, lang)
    cached = _CODE_CACHE.get(key)
    if cached is not None:
        return cached
    if len(code) > HIGHLIGHT_MAX_CHARS or not _LANG_NAME.fullmatch(lang):
        return _remember(key, _plain_code(code))
    if budget.left() <= 0 or (lang not in _COMPILED and budget.compiled):
        return _plain_code(code)  # out of time, or a second new lexer in one message: later
    before = time.thread_time()
    lexer = _lexer(lang)
    if lexer is None:
        return _remember(key, _plain_code(code))
    started = time.thread_time()
    if lang not in _COMPILED:
        budget.compiled = True
        budget.deadline += started - before  # building it is not this block's cost (see _COMPILED)
        _COMPILED.add(lang)
    token = _CURRENT.set(budget)
    try:
        body = format_tokens(lexer.get_tokens(code), _FORMATTER)  # lazily: formatting counts too
    except OverBudget:
        html = _plain_code(code)
        return _remember(key, html) if time.thread_time() - started > budget.seconds / 2 else html
    finally:
        _CURRENT.reset(token)
    name = lexer.aliases[0] if lexer.aliases else lang
    return _remember(key, f'<pre><code class="language-{escapeHtml(name)}">{body}</code></pre>\n')


def clear_caches() -> None:
    """Forget finished code blocks and formulas (for measuring cold renders)."""
    _CODE_CACHE.clear()
    _math.cache_clear()


def _remember(key: tuple[str, str], html: str) -> str:
    if len(_CODE_CACHE) >= _CODE_CACHE_SIZE:
        del _CODE_CACHE[next(iter(_CODE_CACHE))]
    _CODE_CACHE[key] = html
    return html


# --------------------------------------------------------------------------- math

MAX_MATH_CHARS = 4000
# Macro definitions can expand exponentially: a few lines of model output must not cost seconds.
_MACRO_DEFINITION = re.compile(r"\\(?:def|[a-z]*newcommand|let)(?![a-zA-Z])")
# latex2mathml writes symbols as "&#x...;" text; ElementTree escapes the "&", we put back only
# well-formed numeric references (its own ``convert`` unescapes everything, which would let
# ``\text{<script>}`` through as markup).
_NUMERIC_REF = re.compile(r"&amp;(#(?:x[0-9a-fA-F]{1,6}|[0-9]{1,7});)")


def _math_fallback(source: str, display: bool) -> str:
    code = f'<code class="math-error">{escapeHtml(source)}</code>'
    return f'<pre class="math-error">{code}</pre>' if display else code


@lru_cache(maxsize=512)
def _math(source: str, display: bool) -> str:
    """LaTeX -> MathML; anything latex2mathml cannot handle is shown as its source."""
    source = source.strip()
    if not source or len(source) > MAX_MATH_CHARS or _MACRO_DEFINITION.search(source):
        return _math_fallback(source, display)
    try:
        element = convert_to_element(source, display="block" if display else "inline")
    except Exception:  # it raises many types (IndexError, StopIteration, RecursionError, its own)
        return _math_fallback(source, display)
    element.attrib.pop("xmlns", None)
    mathml = tostring(element, encoding="unicode", short_empty_elements=False)
    return _NUMERIC_REF.sub(r"&\1", mathml)


@lru_cache(maxsize=16)
def _positions(src: str, needle: str) -> list[int]:
    """Where ``needle`` starts in ``src`` (a str caches its hash, so repeated lookups are cheap)."""
    found, at = [], src.find(needle)
    while at >= 0:
        found.append(at)
        at = src.find(needle, at + 1)
    return found


def _bracket_math(state: StateInline, silent: bool) -> bool:
    r"""Inline rule for ``\(...\)`` (inline) and ``\[...\]`` (display); runs before "escape",
    which would otherwise eat the backslash."""
    src, pos = state.src, state.pos
    if src[pos] != "\\" or pos + 1 >= state.posMax or src[pos + 1] not in "([":
        return False
    closer = "\\)" if src[pos + 1] == "(" else "\\]"
    # The next closer by bisection in the closers' positions, found once per text: searching
    # from every opener would be quadratic in a text of openers with no closer.
    closers = _positions(src, closer)
    index = bisect_left(closers, pos + 2)
    end = closers[index] if index < len(closers) else -1
    if end < 0 or end + 2 > state.posMax or not src[pos + 2 : end].strip():
        return False
    if not silent:
        token = state.push("math_inline" if closer == "\\)" else "math_inline_double", "math", 0)
        token.content = src[pos + 2 : end]
        token.markup = src[pos : pos + 2]
    state.pos = end + 2
    return True


# --------------------------------------------------------------------------- markdown-it rules


def _inline_budget(state: StateInline, silent: bool) -> bool:
    """First inline rule: counts a step of the inline parser (never matches)."""
    state.env["budget"].step()
    return False


def _block_budget(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """First block rule: counts a step of the block parser (never matches).

    It also makes each token the block state pushes a step: a table is one rule call that may
    push 40,000 tokens (0.4 s), which no rule boundary would see.
    """
    budget: Budget = state.env["budget"]
    budget.step()
    if "push" not in vars(state):
        push = state.push

        def counted(kind: str, tag: str, nesting: Literal[-1, 0, 1]) -> Token:
            budget.step()
            return push(kind, tag, nesting)

        state.push = counted  # type: ignore[method-assign]
    return False


def _needs_closer(rule: Callable[[StateInline, bool], bool]) -> Callable[[StateInline, bool], bool]:
    """A link or image rule that gives up at once when no ``]`` follows: markdown-it would scan
    to the end of the text for each ``[`` of a run of them."""

    def guarded(state: StateInline, silent: bool) -> bool:
        closers = _positions(state.src, "]")
        index = bisect_left(closers, state.pos)
        if index == len(closers) or closers[index] >= state.posMax:
            return False
        return rule(state, silent)

    return guarded


_TASK_MARK = re.compile(r"\[([ xX])\][ \t]")


def _task_lists(state: StateCore) -> None:
    """Task list items get a ☐/☑ character, not an <input> (see ALLOWED_TAGS for why)."""
    tokens = state.tokens
    for i in range(2, len(tokens)):
        inline = tokens[i]
        if inline.type != "inline" or not inline.children:
            continue
        if tokens[i - 1].type != "paragraph_open" or tokens[i - 2].type != "list_item_open":
            continue
        first = inline.children[0]
        if first.type != "text" or not _TASK_MARK.match(first.content):
            continue
        box = "☐" if first.content[1] == " " else "☑"
        first.content = box + first.content[3:]
        tokens[i - 2].attrSet("class", "task-list-item")


Tokens = Sequence[Token]


def _render_fence(self: RendererHTML, tokens: Tokens, idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    info = unescapeAll(token.info).strip() if token.info else ""
    lang = info.split(maxsplit=1)[0].lower() if info else ""
    if lang == "math":
        return _math(token.content, True) + "\n"
    return _code_block(token.content, lang, env["budget"])


def _render_link_open(
    self: RendererHTML, tokens: Tokens, idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Drop hrefs our link policy refuses (data: images pass validateLink for <img> only)."""
    token = tokens[idx]
    href = token.attrGet("href")
    if href is not None and not link_allowed(str(href)):
        del token.attrs["href"]
    return self.renderToken(tokens, idx, options, env)


def _render_image(self: RendererHTML, tokens: Tokens, idx: int, options: OptionsDict, env: EnvType) -> str:
    """Own uploads and data: images stay images; others become a link (or just the alt text)."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    if image_allowed(src, env["files_prefix"]):
        token.attrSet("alt", alt)
        return self.renderToken(tokens, idx, options, env)
    if link_allowed(src):
        return f'<a href="{escapeHtml(src)}">{escapeHtml(alt or src)}</a>'
    return escapeHtml(alt)


def _render_cell_open(
    self: RendererHTML, tokens: Tokens, idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Table alignment as the align attribute: nh3 drops every style attribute."""
    token = tokens[idx]
    style = str(token.attrGet("style") or "")
    if style.startswith("text-align:"):
        del token.attrs["style"]
        token.attrSet("align", style.removeprefix("text-align:"))
    return self.renderToken(tokens, idx, options, env)


def _render_math(display: bool, end: str = "") -> Callable[..., str]:
    def rule(self: RendererHTML, tokens: Tokens, idx: int, options: OptionsDict, env: EnvType) -> str:
        return _math(tokens[idx].content, display) + end

    return rule


def _build_markdown(math: bool = True) -> MarkdownIt:
    # "js-default": raw HTML off, tables and ~~strikethrough~~ on; breaks: chat text often relies
    # on single newlines (lists of lines, poems, addresses).
    md = MarkdownIt("js-default", {"linkify": True, "breaks": True})
    # Bare "main.py" or "setup.sh" are filenames far more often than domains (.py and .sh are
    # TLDs), so only links with a scheme (and e-mail addresses) are autolinked.
    md.linkify.set({"fuzzy_link": False})
    md.validateLink = lambda url: link_allowed(url) or _DATA_IMAGE.match(_squash(url)) is not None
    if math:
        dollarmath_plugin(
            md,
            allow_labels=False,
            allow_space=False,
            allow_digits=False,
            allow_blank_lines=False,
            double_inline=True,
        )
        md.inline.ruler.before("escape", "math_bracket", _bracket_math)
    md.inline.ruler.at("link", _needs_closer(rules_inline.link))
    md.inline.ruler.at("image", _needs_closer(rules_inline.image))
    md.inline.ruler.before("text", "budget", _inline_budget)
    # Also a terminator of every block that runs on line by line (a paragraph of 16,000 lines
    # asks each terminator at each line), so long blocks count their lines too.
    md.block.ruler.before(
        "table", "budget", _block_budget, {"alt": ["paragraph", "reference", "blockquote", "list", "table"]}
    )
    md.core.ruler.push("task_lists", _task_lists)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("th_open", _render_cell_open)
    md.add_render_rule("td_open", _render_cell_open)
    md.add_render_rule("math_inline", _render_math(False))
    md.add_render_rule("math_inline_double", _render_math(True))
    md.add_render_rule("math_block", _render_math(True, "\n"))
    return md


_MD = _build_markdown()
_MD_NO_MATH = _build_markdown(math=False)  # a program's Chatbot(latex_delimiters=[])
# The first link compiles linkify's patterns (~50 ms): done here, not inside the first message's
# budget (which it would spend, showing that message as plain text).
_MD.render("https://example.com/ *a* $x$", {"files_prefix": "/files/", "budget": Budget(60.0)})

# --------------------------------------------------------------------------- sanitiser allowlist

_HTML_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "img", "span",
}  # fmt: skip
# What latex2mathml emits, minus maction/semantics/annotation(-xml)/mglyph (mXSS and legacy
# script-ish behaviour). No <input>: task boxes are characters, so no form control can ever be
# injected (a stray <input form=...> could join the page's composer form).
_MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
    "msqrt", "mroot", "mstyle", "mtable", "mtr", "mtd", "mover", "munder", "munderover", "mpadded",
    "mphantom", "menclose", "mmultiscripts", "mprescripts", "none", "merror",
}  # fmt: skip
# Presentation attributes only: no href (latex2mathml's \href), class, style (\class, \style), id.
_MATHML_ATTRS = {
    "display", "displaystyle", "scriptlevel", "mathvariant", "mathsize", "mathcolor", "mathbackground",
    "dir", "form", "fence", "separator", "stretchy", "symmetric", "largeop", "movablelimits", "accent",
    "accentunder", "lspace", "rspace", "minsize", "maxsize", "linethickness", "width", "height",
    "depth", "voffset", "notation", "columnalign", "rowalign", "columnlines", "rowlines",
    "columnspacing", "rowspacing", "columnspan", "rowspan", "frame", "framespacing", "linebreak",
    "align", "equalrows", "equalcolumns",
}  # fmt: skip
ALLOWED_TAGS = frozenset(_HTML_TAGS | _MATHML_TAGS)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    **{tag: set(_MATHML_ATTRS) for tag in _MATHML_TAGS},
}
ALLOWED_CLASSES: dict[str, set[str]] = {
    "span": set(PYGMENTS_CLASSES),
    "code": set(LANGUAGE_CLASSES) | {"math-error"},
    "pre": {"math-error"},
    "li": {"task-list-item"},
}
# Dropped with their content, not just unwrapped: their text is never meant to be read.
_CLEAN_CONTENT_TAGS = {
    "script", "style", "template", "textarea", "title", "iframe", "noscript", "noembed", "noframes",
    "xmp", "plaintext", "object", "embed", "svg", "select",
}  # fmt: skip
LINK_REL = "noopener noreferrer nofollow"
# A gr.HTML or gr.Markdown component of a program's page may use layout HTML (Gradio's demos centre
# a title with <center><h1>); the same policy as messages otherwise: no scripts, styles, forms,
# frames or attributes that run anything, links and images by the same URL rules.
_LAYOUT_TAGS = {
    "div", "center", "b", "i", "u", "small", "sub", "sup", "mark", "dl", "dt", "dd", "details",
    "summary", "figure", "figcaption", "caption", "tfoot", "kbd", "abbr", "del", "ins",
}  # fmt: skip


@lru_cache(maxsize=16)
def _cleaner(files_prefix: str, layout: bool = False) -> nh3.Cleaner:
    """One nh3 Cleaner per files_prefix (an app has one): allowlists are converted once. With
    ``layout``, a program's own HTML also keeps layout tags (_LAYOUT_TAGS)."""
    _check_prefix(files_prefix)

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr == "href":
            return value if link_allowed(value) else None
        if attr == "src":
            return value if tag == "img" and image_allowed(value, files_prefix) else None
        return value

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS | _LAYOUT_TAGS) if layout else set(ALLOWED_TAGS),
        clean_content_tags=_CLEAN_CONTENT_TAGS,
        attributes={**ALLOWED_ATTRIBUTES, "abbr": {"title"}, "details": {"open"}}
        if layout
        else ALLOWED_ATTRIBUTES,
        attribute_filter=attribute_filter,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=set(LINK_SCHEMES) | {"data"},  # data: narrowed to images by attribute_filter
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


# --------------------------------------------------------------------------- public API


TOO_COSTLY = "Shown as plain text: this message would take too long to format."


def render_markdown(text: str, *, files_prefix: str = "/files/", math: bool = True) -> Markup:
    """Markdown (possibly cut off mid-stream) -> sanitised HTML, safe to put in a template;
    ``math=False`` leaves dollar signs and ``\\(`` as text.

    Within the CPU budget; a message that would take longer is its escaped text, with a note.

    ``files_prefix`` is where our own uploads are served (``/chat/files/`` behind a path
    prefix): the only place images may come from, besides inline ``data:image/...`` rasters.
    """
    cleaner = _cleaner(files_prefix)
    try:
        md = _MD if math else _MD_NO_MATH
        html = md.render(text, {"files_prefix": files_prefix, "budget": Budget()})
    except OverBudget:
        return Markup(f'<p class="render-note">{TOO_COSTLY}</p>\n<p>') + render_plain(text) + Markup("</p>")
    return Markup(cleaner.clean(html))


def render_inline(text: str, *, files_prefix: str = "/files/") -> Markup:
    """One line of Markdown (a thought's title): emphasis, code, links and math, no blocks;
    cleaned and within the budget as :func:`render_markdown` is."""
    cleaner = _cleaner(files_prefix)
    try:
        html = _MD.renderInline(text, {"files_prefix": files_prefix, "budget": Budget()})
    except OverBudget:
        return escape(text)
    return Markup(cleaner.clean(html))


def _build_layout_markdown() -> MarkdownIt:
    md = _build_markdown()
    md.options["html"] = True  # the cleaner, not the parser, keeps the page safe here
    return md


_MD_LAYOUT = _build_layout_markdown()


def render_html(html: str, *, files_prefix: str = "/files/") -> Markup:
    """A program's HTML (``gr.HTML``) -> the same HTML, sanitised: layout tags stay, anything that
    could run or restyle the page goes."""
    return Markup(_cleaner(files_prefix, layout=True).clean(html))


def render_layout_markdown(text: str, *, files_prefix: str = "/files/") -> Markup:
    """A program's Markdown (``gr.Markdown``), which may mix in HTML as Gradio allows; sanitised as
    :func:`render_html` is, within the CPU budget."""
    try:
        html = _MD_LAYOUT.render(text, {"files_prefix": files_prefix, "budget": Budget()})
    except OverBudget:
        return Markup("<p>") + render_plain(text) + Markup("</p>")
    return Markup(_cleaner(files_prefix, layout=True).clean(html))


def render_code(code: str, language: str | None) -> Markup:
    """Source code as a highlighted (or plain) ``<pre><code>`` block (``gr.Code``), within the budget."""
    return Markup(_code_block(code, (language or "").lower(), Budget()))


def render_plain(text: str) -> Markup:
    """Escaped text with its line breaks kept (for showing a message exactly as typed)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    return Markup(str(escape(lines)).replace("\n", "<br>\n"))  # one C-speed escape, not one per line


# --------------------------------------------------------------------------- stylesheet

CODE_SCOPE = ".md pre"  # templates put class="md" on the element holding rendered Markdown
LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"
_DARK_SELECTORS = ("[data-theme=dark]", ":root:not([data-theme=light])")
# The dark theme must not inherit light token colours it does not override itself, so dark
# first resets every span (more specific than the light rules, less than the dark ones).
_RESET = (
    "{scope} span {{ color: inherit; background-color: transparent; font-weight: inherit; "
    "font-style: inherit; text-decoration: inherit; border: 0 }}"
)


def _style_rules(style: str, scope: str) -> list[str]:
    formatter = HtmlFormatter(style=style)
    return [*formatter.get_background_style_defs(scope), *formatter.get_token_style_defs(scope)]


def code_css() -> str:
    """Pygments CSS: light by default, dark under [data-theme=dark] or the OS preference
    (unless the page forces [data-theme=light])."""
    forced, auto = (f"{sel} {CODE_SCOPE}" for sel in _DARK_SELECTORS)
    auto_rules = "\n".join(
        f"  {rule}" for rule in [_RESET.format(scope=auto), *_style_rules(DARK_STYLE, auto)]
    )
    return "\n".join(
        [
            "/* Generated by webchat.render.code_css(); regenerate with:",
            " *   python -m webchat.render > static/css/code.css */",
            f"/* light: Pygments '{LIGHT_STYLE}' */",
            f"{CODE_SCOPE} {{ color: #1f2328 }}",
            *_style_rules(LIGHT_STYLE, CODE_SCOPE),
            f"/* dark: Pygments '{DARK_STYLE}' */",
            _RESET.format(scope=forced),
            *_style_rules(DARK_STYLE, forced),
            "@media (prefers-color-scheme: dark) {",
            auto_rules,
            "}",
            "",
        ]
    )


if __name__ == "__main__":
    print(code_css(), end="")
