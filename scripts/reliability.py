"""Run the engine's fault scenarios and write docs/reliability.md: what ran, what was injected, what held.

Usage: .venv/bin/python scripts/reliability.py [--examples N]   (after scripts/bootstrap test; about 5-10 minutes)

The property test runs with the "thorough" profile (600 examples of up to 40 steps unless --examples says
otherwise); the example and end-to-end scenarios run as in CI. Each scenario is named by its test's name and
described by its docstring or its name, so the report never drifts from the tests.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = {
    "Stateful property test (hypothesis)": "tests/core/test_engine_faults.py",
    "One example per defect": "tests/core/test_engine_defects.py",
    "Two engines, one lock": "tests/core/test_cross_process.py",
    "Keychain faults": "tests/core/test_vault_faults.py",
    "End to end on the rig (real provider, keychain, processes, signals)": "tests/e2e/test_faults_e2e.py",
}


def describe(path: Path) -> dict[str, str]:
    """Test name -> the first line of its docstring, or its name in words."""
    tree = ast.parse(path.read_text())
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(("test_", "runTest")):
            doc = ast.get_docstring(node)
            out[node.name] = (doc or node.name.removeprefix("test_").replace("_", " ")).splitlines()[0]
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Call) and getattr(d.func, "id", "") == "rule" for d in node.decorator_list
        ):
            doc = ast.get_docstring(node)
            out[f"rule:{node.name}"] = (doc or node.name.replace("_", " ")).splitlines()[0]
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Call) and getattr(d.func, "id", "") == "invariant" for d in node.decorator_list
        ):
            out[f"invariant:{node.name}"] = node.name.replace("_", " ")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=None, help="property-test examples (default: thorough)")
    args = parser.parse_args()
    env = {**os.environ, "HYPOTHESIS_PROFILE": "thorough"}
    if args.examples:
        env["HYPOTHESIS_PROFILE"] = "thorough"
        env["TOKENDESK_FAULT_EXAMPLES"] = str(args.examples)
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        started = dt.datetime.now(dt.UTC)
        proc = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "pytest"),
                *SUITES.values(),
                "-q",
                "-p",
                "no:cacheprovider",
                "--hypothesis-show-statistics",
                f"--junitxml={junit}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        finished = dt.datetime.now(dt.UTC)
        cases = ET.parse(junit).getroot().iter("testcase")  # noqa: S314 - our own pytest wrote it
        results = [
            (
                c.get("classname", ""),
                c.get("name", ""),
                float(c.get("time", "0")),
                "failed"
                if c.find("failure") is not None or c.find("error") is not None
                else "skipped"
                if c.find("skipped") is not None
                else "passed",
            )
            for c in cases
        ]
    report = render(results, proc.stdout, started, finished)
    (ROOT / "docs" / "reliability.md").write_text(report)
    print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:])
    print(f"wrote {ROOT / 'docs' / 'reliability.md'}")
    return proc.returncode


def render(results: list[tuple[str, str, float, str]], output: str, started: dt.datetime, finished: dt.datetime) -> str:
    lines = [
        "# Reliability record",
        "",
        "What the refresh engine was put through, and what held. Produced by `.venv/bin/python "
        "scripts/reliability.py` (after `scripts/bootstrap test`); do not edit by hand.",
        "",
        f"- Run: {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC, {(finished - started).seconds} s",
        f"- Machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- Result: {sum(r[3] == 'passed' for r in results)} passed, {sum(r[3] == 'failed' for r in results)} "
        f"failed, {sum(r[3] == 'skipped' for r in results)} skipped",
        "",
    ]
    failures = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
    if failures:
        lines += ["Failures:", "", *(f"    {line}" for line in failures), ""]
    for title, file in SUITES.items():
        described = describe(ROOT / file)
        module = file.removesuffix(".py").replace("/", ".")
        rows = [r for r in results if r[0] == module or r[0].startswith(module + ".")]
        lines += [f"## {title}", "", f"`{file}`", ""]
        if file.endswith("test_engine_faults.py"):
            lines += property_section(described, output)
        lines += ["| scenario | result | seconds |", "|---|---|---|"]
        for _, name, seconds, outcome in rows:
            base = re.sub(r"\[.*\]$", "", name)
            params = name[len(base) :]
            text = described.get(base, base.replace("_", " "))
            if base == "runTest":
                text = "the state machine above, every example (statistics above)"
            lines.append(f"| {text}{' ' + params if params else ''} | {outcome} | {seconds:.1f} |")
        lines.append("")
    return "\n".join(lines)


def property_section(described: dict[str, str], output: str) -> list[str]:
    rules = [f"- {k.removeprefix('rule:')}: {v}" for k, v in described.items() if k.startswith("rule:")]
    invariants = [f"- {v}" for k, v in described.items() if k.startswith("invariant:")]
    stats = [
        line.strip()
        for line in output.splitlines()
        if re.search(r"passing|failing|Stopped because|during (generate|shrink)|^\s*\* [0-9.]+%", line)
        and "Retried draw" not in line
    ]
    return [
        "Steps the machine chooses from (faults, kills, signals, time jumps and callers):",
        "",
        *rules,
        "",
        "Invariants checked after every step, once every engine's loop went quiet:",
        "",
        *invariants,
        "- every settle: bounded provider requests and keychain calls per engine at one instant (no spinning)",
        "",
        "Hypothesis statistics:",
        "",
        *(f"    {s}" for s in stats),
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
