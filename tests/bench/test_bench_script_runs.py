"""The hot-path benchmark still runs and prints its table (no timings are judged here)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_hot_path_benchmark_prints_its_table():
    completed = subprocess.run(
        [sys.executable, "bench/hot_path.py", "--requests", "3", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    out = completed.stdout
    assert "database:" in out and "cache:" in out
    from bench.variants import CONFIGS

    for config in CONFIGS:
        assert config.name in out
    for variant in ("none", "drf-token", "perceptis"):
        assert f"  {variant} " in out
    assert out.count("overhead perceptis / overhead drf-token:") == len(CONFIGS)
    assert "metering and rate limiting together add" in out
