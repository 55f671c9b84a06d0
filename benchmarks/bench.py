"""Project benchmark (`make bench`): synth time against an empty app, suite time, template budgets.

Measured in one run on this machine, through the same CDK CLI and Node.js the project
pins, so the ratio (our synth / an empty app's synth) is comparable across machines.
Prints a table and writes .bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "node_modules" / ".bin"
PYTHON = ROOT / ".venv" / "bin" / "python"
MAX_RESOURCES = 500  # CloudFormation: resources per stack
MAX_TEMPLATE_BYTES = 1_048_576  # CloudFormation: template body uploaded through S3

sys.path.insert(0, str(ROOT))
from corridor_cdk.config import COMPUTE_METHODS  # noqa: E402

EMPTY_APP = """
import aws_cdk as cdk
app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "CDK_DISABLE_CLI_TELEMETRY": "true"}


def _timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def _synth(outdir: Path, compute: str, repeat: int) -> float:
    cmd = [str(BIN / "cdk"), "synth", "--quiet", "--no-notices", "-o", str(outdir), "-c", f"compute={compute}"]
    return statistics.median(_timed(cmd, ROOT) for _ in range(repeat))


def _empty_synth(repeat: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app.py"
        app.write_text(EMPTY_APP)
        cmd = [str(BIN / "cdk"), "synth", "--quiet", "--no-notices", "-a", f"{PYTHON} {app}", "-o", f"{tmp}/out"]
        return statistics.median(_timed(cmd, Path(tmp)) for _ in range(repeat))


def _budgets(outdir: Path) -> list[dict[str, object]]:
    rows = []
    for template in sorted(outdir.glob("*.template.json")):
        body = template.read_bytes()
        resources = len(json.loads(body)["Resources"])
        rows.append(
            {
                "stack": template.name.removesuffix(".template.json"),
                "resources": resources,
                "resources_pct": round(100 * resources / MAX_RESOURCES, 1),
                "bytes": len(body),
                "bytes_pct": round(100 * len(body) / MAX_TEMPLATE_BYTES, 1),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1, help="synth runs per measurement (median)")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suite")
    args = parser.parse_args()

    bench_dir = ROOT / ".bench"
    shutil.rmtree(bench_dir, ignore_errors=True)
    bench_dir.mkdir()
    results: dict[str, object] = {"empty_app_synth_s": round(_empty_synth(args.repeat), 2), "synth": {}, "budgets": {}}
    for compute in COMPUTE_METHODS:
        outdir = bench_dir / f"cdk.out.{compute}"
        seconds = _synth(outdir, compute, args.repeat)
        results["synth"][compute] = {  # type: ignore[index]
            "seconds": round(seconds, 2),
            "ratio_to_empty": round(seconds / results["empty_app_synth_s"], 1),  # type: ignore[operator]
        }
        results["budgets"][compute] = _budgets(outdir)  # type: ignore[index]
    if not args.skip_tests:
        results["test_suite_s"] = round(_timed([str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider"], ROOT), 1)

    print(f"empty CDK app synth: {results['empty_app_synth_s']} s")
    for compute, row in results["synth"].items():  # type: ignore[union-attr]
        print(f"cdk synth, all stacks, compute={compute}: {row['seconds']} s ({row['ratio_to_empty']}x the empty app)")
    if "test_suite_s" in results:
        print(f"test suite wall time: {results['test_suite_s']} s")
    print(f"\n{'compute':8} {'stack':18} {'resources':>14} {'template bytes':>22}")
    for compute, rows in results["budgets"].items():  # type: ignore[union-attr]
        for r in rows:
            print(
                f"{compute:8} {r['stack']:18} {r['resources']:>5}/{MAX_RESOURCES} ({r['resources_pct']:>4}%)"
                f" {r['bytes']:>9}/{MAX_TEMPLATE_BYTES} ({r['bytes_pct']:>4}%)"
            )
    (bench_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
