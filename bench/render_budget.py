"""Render CPU per message against hostile input: every Pygments lexer and the Markdown and math
rules, each over inputs built to be slow, at the message-length limit.

    .venv/bin/python -m bench.render_budget [--chars 32000] [--lexer-chars 8000]

Prints the CPU time of ``render_markdown`` (thread CPU, so other work on the machine does not
count) for each Markdown input, and for the lexers the slowest cases. A lexer's first use in a
process compiles its regular expressions (up to ~0.1 s, once); that is measured apart, since a
server pays it once per lexer, not per message. In-process, no server; about a minute.
"""

from __future__ import annotations

import argparse
import time

from pygments.lexers import get_all_lexers

from bench.common import load_note, machine
from webchat.render import RENDER_BUDGET_SECONDS, render_markdown


def markdown_inputs(chars: int) -> dict[str, str]:
    """Inputs known (or built) to be slow for markdown-it-py and the math rules."""
    half = chars // 2
    return {
        "prose": ("The quick brown fox jumps over the lazy dog. " * chars)[:chars],
        "[ run": "[" * chars,
        "![ run": "![" * half,
        "nested [ ]": "[" * half + "]" * half,
        "emphasis *a": "*a" * half,
        "*_ mix": "*_" * half,
        r"\( openers": "\\(" * half,
        r"\( with closer": "\\(" * (half - 1) + "\\)",
        "$ math": "$a" * half,
        "short lines": "a\n" * half,
        "wide table": "|a" * 100 + "|\n" + "|-" * 100 + "|\n" + ("|x" * 100 + "|\n") * (chars // 202),
        "links": "[a](b) " * (chars // 7),
        "< run": "<" * chars,
        "&# run": "&#" * half,
        "> > quotes": "> " * half,
        "- lists": "- " * half,
        "backticks": "`" * chars,
    }


def lexer_inputs(chars: int) -> dict[str, str]:
    half = chars // 2
    return {
        "a\\n": "a\n" * half,
        "spaces": "a " * half,
        "braces": "{" * chars,
        "comment openers": "/*" * half,
        "quotes": '"' * chars,
        "angles": "<" * chars,
        "backslashes": "\\" * chars,
        "parens": "(" * chars,
    }


def cpu(text: str) -> float:
    started = time.thread_time()
    render_markdown(text)
    return time.thread_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chars", type=int, default=32_000, help="length of each Markdown input")
    parser.add_argument("--lexer-chars", type=int, default=8_000, help="length of each code input")
    args = parser.parse_args()
    print(machine(), load_note(), f"budget {RENDER_BUDGET_SECONDS * 1000:.0f} ms", sep="\n")
    cpu("warm up")
    print(f"\nMarkdown, {args.chars} characters each: CPU ms")
    for name, text in markdown_inputs(args.chars).items():
        print(f"  {name:16} {cpu(text) * 1000:7.1f}")

    aliases = sorted({a[0] for _, a, _, _ in get_all_lexers() if a})
    worst: list[tuple[float, str, str]] = []
    first_use: list[tuple[float, str]] = []
    for alias in aliases:
        first_use.append((cpu(f"```{alias}\nx = 1\n```"), alias))
        for name, code in lexer_inputs(args.lexer_chars).items():
            worst.append((cpu(f"```{alias}\n{code}\n```"), alias, name))
    worst.sort(reverse=True)
    first_use.sort(reverse=True)
    print(f"\n{len(aliases)} lexers x {len(lexer_inputs(1))} inputs of {args.lexer_chars} characters:")
    print(f"  slowest message: {worst[0][0] * 1000:.1f} ms ({worst[0][1]}, {worst[0][2]})")
    for seconds, alias, name in worst[1:8]:
        print(f"  {seconds * 1000:7.1f} ms  {alias}, {name}")
    over = sum(1 for seconds, _, _ in worst if seconds > RENDER_BUDGET_SECONDS * 1.5)
    print(f"  over 1.5x the budget: {over} of {len(worst)}")
    print(
        f"  first use of a lexer (compiles it, once per process): max {first_use[0][0] * 1000:.0f} ms "
        f"({first_use[0][1]})"
    )


if __name__ == "__main__":
    main()
