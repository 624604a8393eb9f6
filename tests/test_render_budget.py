"""Rendering has a CPU budget: no message, however hostile, costs much more than it.

The budget is lowered to 10 ms here, so every input below runs into it; what is checked is that
the renderer notices in time (no step of markdown-it or of any Pygments lexer runs long unseen;
CPU counted as the budget counts it, without garbage collections)
and still answers safe HTML. Times are thread CPU with a bound of 25x the budget, so a busy
machine does not fail the test; before the budget, these inputs took 0.5 s to 30 s each.
``bench/render_budget.py`` gives the figures at the real budget.
"""

from __future__ import annotations

import time

import pytest
from pygments.lexers import get_all_lexers

from bench.render_budget import lexer_inputs, markdown_inputs
from webchat import render
from webchat.render import TOO_COSTLY, render_markdown

BUDGET = 0.010
BOUND = 25 * BUDGET

ALIASES = sorted({aliases[0] for _, aliases, _, _ in get_all_lexers() if aliases})


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "RENDER_BUDGET_SECONDS", BUDGET)
    monkeypatch.setattr(render, "_CODE_CACHE", {})


def cpu(text: str) -> tuple[float, str]:
    """Render CPU as the budget counts it: this thread's, without garbage collections (in a test
    process holding 600 compiled lexers, one collection can take a few hundred ms)."""
    started, collected = time.thread_time(), render._gc_spent
    html = render_markdown(text)
    return time.thread_time() - started - (render._gc_spent - collected), html


@pytest.mark.parametrize(("name", "text"), list(markdown_inputs(32_000).items()))
def test_no_markdown_input_of_the_allowed_size_runs_long(small_budget: None, name: str, text: str) -> None:
    seconds, html = cpu(text)
    assert seconds < BOUND, f"{name}: {seconds:.3f} s"
    if TOO_COSTLY in html:
        assert "<script" not in html and html.count("<p") == 2  # the note and the escaped text


def test_every_lexer_notices_the_budget(small_budget: None) -> None:
    """Every Pygments lexer, over inputs that make some of them quadratic or loop without a token."""
    slow = []
    for alias in ALIASES:
        render_markdown(f"```{alias}\nx\n```")  # its first use compiles it: once per process, not here
        for name, code in lexer_inputs(4_000).items():
            seconds, html = cpu(f"```{alias}\n{code}\n```")
            if seconds > BOUND:
                slow.append(f"{alias} over {name}: {seconds:.3f} s")
            assert "<pre><code" in html or TOO_COSTLY in html  # (on a busy machine, the latter)
    assert slow == []


def test_an_ordinary_long_reply_is_formatted_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """All of it formatted (none of the rules above gets in the way); with room in the budget, as
    this checks what is drawn, not how fast (bench/latency.py: ~6 ms for such a reply)."""
    monkeypatch.setattr(render, "RENDER_BUDGET_SECONDS", 1.0)
    reply = (
        "## Steps\n\n1. **Install** the package;\n2. run `webchat`;\n3. open the page.\n\n"
        "```python\nfor token in model():\n    send(token)\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "Inline math \\(a^2 + b^2\\) and a [link](https://example.org).\n\n"
    ) * 20  # about 4 KB, as a long model answer
    html = str(render_markdown(reply))
    assert TOO_COSTLY not in html
    assert html.count('class="language-python"') == 20 and html.count("<math") == 20
    assert html.count("<table>") == 20 and html.count("<li>") == 60


def test_a_message_over_the_budget_is_its_plain_text_with_a_note(small_budget: None) -> None:
    text = "<script>alert(1)</script> *" + "[" * 30_000
    html = str(render_markdown(text))
    assert html.startswith(f'<p class="render-note">{TOO_COSTLY}</p>')
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html


def test_code_over_the_budget_is_shown_without_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    """At the real budget (the Markdown around the block takes a few ms of it, even when busy):
    this lexer would take 29 s over these 8,000 characters."""
    monkeypatch.setattr(render, "_CODE_CACHE", {})
    render_markdown("```csharp\nx\n```")
    html = str(render_markdown("Before.\n\n```csharp\n" + "a\n" * 4000 + "```\n\nAfter."))
    assert "<p>Before.</p>" in html and "<p>After.</p>" in html and TOO_COSTLY not in html
    assert "<pre><code>a\na\n" in html  # escaped, no language class, no token spans


def test_code_over_the_size_limit_is_not_highlighted() -> None:
    code = "x = 1\n" * (render.HIGHLIGHT_MAX_CHARS // 6 + 1)
    html = str(render_markdown(f"```python\n{code}```"))
    assert "<pre><code>x = 1\n" in html and '<span class="' not in html


@pytest.mark.parametrize(
    "text",
    ["\\(" * 64_000, "\\[" * 64_000, "[" * 128_000, "![" * 64_000, "\\(" * 64_000 + "x\\)"],
    ids=["\\( openers", "\\[ openers", "[ run", "![ run", "\\( with a closer"],
)
def test_bracket_math_and_link_runs_are_linear(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Not only cut short by the budget: these are cheap now. At 128,000 characters the old
    rules took 7 to 25 s; with a 4 s budget they must finish formatted (they take about 0.9 s)."""
    monkeypatch.setattr(render, "RENDER_BUDGET_SECONDS", 4.0)
    seconds, html = cpu(text)
    assert TOO_COSTLY not in html, f"{seconds:.3f} s"
