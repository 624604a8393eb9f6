"""The streaming benchmark still runs against the current app (a small level of it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_small_load_level_streams_every_token_live(tmp_path):
    out = tmp_path / "load.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "-c",
            "3",
            "--idle",
            "0",
            "--max-seconds",
            "60",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [level] = json.loads(out.read_text())
    assert level["ok"] == 3 and level["failed"] == 0
    assert level["frames_per_turn"] > 100  # streamed, token by token
    assert level["ws_bytes_per_token"] < 40
    assert 0.95 < level["stretch_p50"] < 1.5
