"""CPU costs measured in-process: rendering a typical reply, and how soon Stop ends a turn.

    .venv/bin/python -m bench.latency

The renderer runs every ~250 ms for each streaming reply and once more at its end, so its cost
bounds how many replies one core can stream; the target is under 8 ms for a 5 KB reply with four
code blocks. Stop must end a turn within 200 ms even while the model is blocked between tokens.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.common import load_note, machine
from webchat import render
from webchat.hub.memory import Hub
from webchat.render import render_markdown
from webchat.store import Store, sqlite_url
from webchat.turns import TurnRunner


def sample_reply() -> str:
    """About 5 KB of typical model output with 4 code blocks (Python, JS, Bash, SQL)."""
    blocks = [
        "```python\nimport json\nfrom pathlib import Path\n\n\ndef load(path: str) -> dict:\n"
        '    """Load a JSON file, or an empty dict when it is missing."""\n'
        "    file = Path(path)\n    if not file.exists():\n        return {}\n"
        '    with file.open(encoding="utf-8") as f:\n        return json.load(f)  # may raise\n\n\n'
        "for key, value in sorted(load('settings.json').items()):\n    print(f'{key}={value!r}')\n```\n",
        "```javascript\nasync function fetchJson(url, {timeout = 5000} = {}) {\n"
        "  const ctrl = new AbortController();\n  const timer = setTimeout(() => ctrl.abort(), timeout);\n"
        "  try {\n    const res = await fetch(url, {signal: ctrl.signal});\n"
        "    if (!res.ok) throw new Error(`HTTP ${res.status}`);\n    return await res.json();\n"
        "  } finally {\n    clearTimeout(timer);\n  }\n}\n```\n",
        "```bash\nset -euo pipefail\npython -m venv .venv\n. .venv/bin/activate\n"
        "pip install -r requirements.txt\nfor f in data/*.json; do\n"
        '  echo "checking $f"\n  python -m json.tool "$f" > /dev/null || exit 1\ndone\n```\n',
        "```sql\nSELECT c.id, c.title, COUNT(m.id) AS messages, MAX(m.created_at) AS last\n"
        "FROM conversations AS c\nLEFT JOIN messages AS m ON m.conversation_id = c.id\n"
        "WHERE c.session_id = :sid AND c.deleted_at IS NULL\nGROUP BY c.id, c.title\n"
        "ORDER BY last DESC\nLIMIT 50;\n```\n",
    ]
    prose = (
        "## Step {n}: what to do and why\n\n"
        "Here is **why** this works: the `load` function reads a file, and "
        "[the docs](https://docs.python.org/3/library/json.html) explain the rest. Note that it "
        "runs in $O(n)$ time, that the ~~old~~ new behaviour keeps the *order* of keys, and that "
        "errors surface early instead of later in a confusing place.\n\n"
        "1. Create the environment first.\n2. Install the pinned requirements.\n"
        "3. Run the check below and read its output carefully.\n\n"
        "| option | default | meaning |\n|--------|--------:|---------|\n"
        "| timeout | 5000 | milliseconds before giving up |\n| retries | 3 | attempts |\n\n"
        "> Tip: keep secrets out of the repository; read them from the environment instead.\n\n"
        "- The first run is slower because caches are cold; later runs reuse them.\n"
        "- If something fails, the message names the file and the line, so start there.\n"
        "- When in doubt, run the command again with `--verbose` and compare the outputs.\n\n"
    )
    return "".join(prose.format(n=n + 1) + "\n" + block + "\n" for n, block in enumerate(blocks))


def render_times(runs: int) -> dict[str, float]:
    """Milliseconds for one render of ``sample_reply()``: cold caches, then warm (median)."""
    text = sample_reply()
    cold = []
    for _ in range(runs):
        render.clear_caches()
        started = time.perf_counter()
        render_markdown(text)
        cold.append((time.perf_counter() - started) * 1000)
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        render_markdown(text)
        warm.append((time.perf_counter() - started) * 1000)
    return {"render_cold_ms": statistics.median(cold), "render_warm_ms": statistics.median(warm)}


def stop_times(runs: int) -> dict[str, float]:
    """Milliseconds from Stop to the stored, final reply, while the model blocks between tokens."""
    took = []
    with tempfile.TemporaryDirectory(prefix="webchat-bench-") as tmp:
        store = Store(sqlite_url(Path(tmp) / "db.sqlite3"))
        release = threading.Event()

        def model(message, history):
            yield "partial"
            release.wait(30)
            yield "never seen"

        hub = Hub()
        runner = TurnRunner(store, hub, model, server_name="bench")
        conversation = store.create_conversation("s:bench")
        for _ in range(runs):
            turn = store.create_turn(conversation.id, "s:bench")
            runner.start(turn, "hello", [])
            while (snapshot := hub.get(turn.id)).tail_text != "partial":
                hub.wait(turn.id, snapshot.version, 1)
            started = time.perf_counter()
            runner.stop(turn.id)
            final = hub.wait_final(turn.id, 5)
            took.append((time.perf_counter() - started) * 1000)
            assert final.status == "stopped", final.status
        release.set()
        store.close()
    return {"stop_p50_ms": statistics.median(took), "stop_max_ms": max(took)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args()
    print(machine())
    print(load_note())
    figures = render_times(args.runs) | stop_times(args.runs)
    for name, value in figures.items():
        print(f"{name:>16}: {value:7.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
