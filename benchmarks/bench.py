#!/usr/bin/env python3
"""Synth time per compute method vs an empty CDK app, and resources/size per stack.

    make bench                     # every compute method that synthesizes today
    .venv/bin/python benchmarks/bench.py --compute eks --runs 3
    .venv/bin/python benchmarks/bench.py --suite   # also the pytest suite's wall time

Each synth runs in a fresh Python process (as `cdk synth` does), offline, into
.bench/<method>/; results are printed as a table and written to .bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corridor_cdk.config import COMPUTE_METHODS  # noqa: E402

BENCH_DIR = ROOT / ".bench"

_APP = """
import sys
sys.path.insert(0, {root!r})
from corridor_cdk.app_factory import build_app, cdk_json_context
app, _ = build_app({{**cdk_json_context(), "compute": {compute!r}}}, outdir={outdir!r})
app.synth()
"""

_EMPTY = """
import aws_cdk as cdk
app = cdk.App(outdir={outdir!r})
cdk.Stack(app, "Empty")
app.synth()
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    return env


def _timed(code: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT)
    return time.perf_counter() - start, proc


def synth_seconds(compute: str | None, runs: int) -> tuple[list[float], Path] | None:
    """Wall time of `runs` synths; None when the method does not synthesize (not built yet)."""
    outdir = BENCH_DIR / (compute or "empty")
    times = []
    for _ in range(runs):
        code = (_EMPTY if compute is None else _APP).format(root=str(ROOT), compute=compute, outdir=str(outdir))
        seconds, proc = _timed(code)
        if proc.returncode != 0:
            print(f"  {compute}: does not synthesize ({proc.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
            return None
        times.append(seconds)
    return times, outdir


def stack_sizes(outdir: Path) -> dict[str, dict[str, int]]:
    sizes = {}
    for template in sorted(outdir.glob("Corridor*.template.json")):
        text = template.read_text()
        sizes[template.name.removesuffix(".template.json")] = {
            "resources": len(json.loads(text)["Resources"]),
            "bytes": len(text.encode()),
        }
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compute", choices=COMPUTE_METHODS, action="append", help="default: all methods")
    parser.add_argument("--runs", type=int, default=1, help="synths per method (median is reported)")
    parser.add_argument("--suite", action="store_true", help="also time the whole pytest suite")
    args = parser.parse_args()
    methods = args.compute or list(COMPUTE_METHODS)

    BENCH_DIR.mkdir(exist_ok=True)
    results: dict[str, object] = {}
    empty = synth_seconds(None, args.runs)
    assert empty is not None, "an empty CDK app must synthesize"
    baseline = statistics.median(empty[0])
    results["empty_app_seconds"] = round(baseline, 2)
    print(f"empty app synth: {baseline:.1f} s")
    print(f"{'method':8} {'synth s':>8} {'vs empty':>9}  stack: resources / template bytes")
    for compute in methods:
        measured = synth_seconds(compute, args.runs)
        if measured is None:
            results[compute] = None
            continue
        times, outdir = measured
        median = statistics.median(times)
        sizes = stack_sizes(outdir)
        results[compute] = {"synth_seconds": round(median, 2), "stacks": sizes}
        per_stack = ", ".join(f"{s}: {v['resources']} / {v['bytes']:,}" for s, v in sizes.items())
        print(f"{compute:8} {median:8.1f} {median / baseline:8.1f}x  {per_stack}")
    if args.suite:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=ROOT, env=_env())
        results["suite_seconds"] = round(time.perf_counter() - start, 1)
        results["suite_passed"] = proc.returncode == 0
        print(f"test suite: {results['suite_seconds']} s ({'passed' if proc.returncode == 0 else 'FAILED'})")
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
