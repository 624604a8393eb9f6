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
    assert level["stretch_p50"] > 0.95  # spread over the reply's time, not bunched at its end


def test_the_latency_benchmark_runs(tmp_path):
    out = tmp_path / "latency.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.latency", "--runs", "2", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    assert set(figures) == {"render_cold_ms", "render_warm_ms", "stop_p50_ms", "stop_max_ms"}
    assert all(value > 0 for value in figures.values())
