"""The memory, idle, cancel-latency and parse benches run end to end with tiny sizes (their figures are not judged
here: no timing or size threshold belongs in a test)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=50, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_the_memory_bench_reports_each_stage_of_a_small_book() -> None:
    out = _run("bench/bench_memory.py", "--sizes", "300")
    assert "300 open orders" in out
    for stage in ("imports", "orders in the store", "orders shown", "bytes per order"):
        assert stage in out


def test_the_idle_bench_reports_the_window_beside_its_baseline() -> None:
    out = _run("bench/bench_idle.py", "--orders", "40", "--seconds", "0.3")
    assert "empty window (baseline)" in out and "40 orders, quiet venue" in out


def test_the_cancel_latency_bench_clicks_during_a_small_flood() -> None:
    out = _run("bench/bench_cancel_latency.py", "--clicks", "6", "--flood-orders", "200",
               "--rate", "500", "--seconds", "1")
    assert "quiet table (56 orders)" in out and "quiet table (200 orders)" in out
    flood = out.split("during the flood:", 1)[1]
    for kind in ("bare websocket send", "click -> wire", "queued click -> wire"):
        assert f"  {kind:<22} p50" in flood  # a figure of each kind from the flood


def test_the_parse_bench_reports_every_venue_against_json_loads() -> None:
    out = _run("bench/bench_parse.py", "--frames", "400", "--orders", "50", "--b2-frames", "4",
               "--b2-orders", "40", "--bybit-frames", "150", "--bybit-orders", "30",
               "--repeats", "1")
    for headline in ("budget: client→store >= 1.00x", "budget: frame→StreamParser→store >= 1.00x"):
        assert headline in out
    assert out.count("median ratios to json.loads") == 3
    assert "floor: orjson + Order build + keep, no checks" in out
