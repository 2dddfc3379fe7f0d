"""A small mutation smoke check, run on demand (never in CI): does a test fail when the code is wrong?

    .venv/bin/python tools/mutants.py desktop_app/core/tokens.py -- tests/core/test_tokens.py tests/core/test_oauth.py

Each mutant changes one thing in the target module (a comparison, a boolean operator, a `not`, a number, an
arithmetic operator) and runs the given pytest selection against it in a scratch copy of the repository, so
the work tree others use is never touched. A mutant is killed when pytest fails (or times out); the survivors
are listed with their line: each is either a missing test or an equivalent change worth a comment.
See docs/testing.md.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
}


@dataclass(frozen=True)
class Mutant:
    index: int  # position in the walk: mutants are made again from this, deterministically
    line: int
    description: str


def _docstring_nodes(tree: ast.Module) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            found.add(id(first.value))
    return found


def _is_logging_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("log", "logger", "logging")
    )


Change = Callable[[ast.AST], ast.AST]  # mutates the node in place, or returns its replacement


def _swap_compare(i: int, swap: type[ast.cmpop]) -> Change:
    def change(node: ast.AST) -> ast.AST:
        assert isinstance(node, ast.Compare)
        node.ops[i] = swap()
        return node

    return change


def _set_op(op: type[ast.AST]) -> Change:
    def change(node: ast.AST) -> ast.AST:
        node.op = op()  # type: ignore[attr-defined]
        return node

    return change


def _set_value(value: int | float | bool) -> Change:
    def change(node: ast.AST) -> ast.AST:
        assert isinstance(node, ast.Constant)
        node.value = value
        return node

    return change


def _drop_not(node: ast.AST) -> ast.AST:
    assert isinstance(node, ast.UnaryOp)
    return node.operand


def _mutations(tree: ast.Module) -> Iterator[tuple[ast.AST, str, Change]]:
    """(node, description, change) for every mutation point, in a stable order."""
    skip: set[int] = set(_docstring_nodes(tree))
    for node in ast.walk(tree):
        if _is_logging_call(node):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                swap = _COMPARE_SWAPS.get(type(op))
                if swap is not None:
                    yield node, f"{type(op).__name__} -> {swap.__name__}", _swap_compare(i, swap)
        elif isinstance(node, ast.BoolOp):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And
            yield node, f"{type(node.op).__name__} -> {other.__name__}", _set_op(other)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "drop `not`", _drop_not
        elif isinstance(node, ast.BinOp):
            swap_op = _BINOP_SWAPS.get(type(node.op))
            if swap_op is not None:
                yield node, f"{type(node.op).__name__} -> {swap_op.__name__}", _set_op(swap_op)
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                yield node, f"{value} -> {not value}", _set_value(not value)
            elif isinstance(value, int | float):
                yield node, f"{value!r} -> {value + 1!r}", _set_value(value + 1)


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST, change: Change) -> None:
        self.target = target
        self.change = change

    def visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return self.change(node)
        result: ast.AST = super().visit(node)
        return result


def list_mutants(source: str) -> list[Mutant]:
    tree = ast.parse(source)
    return [
        Mutant(i, getattr(node, "lineno", 0), description) for i, (node, description, _) in enumerate(_mutations(tree))
    ]


def mutate(source: str, index: int) -> str:
    tree = ast.parse(source)
    node, _, change = list(_mutations(tree))[index]
    mutated = _Apply(node, change).visit(tree)
    return ast.unparse(ast.fix_missing_locations(mutated))


def _scratch_copy() -> Path:
    """desktop_app, tests and the project files in a temporary directory; node_modules linked, not copied."""
    scratch = Path(tempfile.mkdtemp(prefix="tokendesk-mutants-"))
    shutil.copytree(ROOT / "desktop_app", scratch / "desktop_app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "tests", scratch / "tests", ignore=shutil.ignore_patterns("__pycache__", "node_modules"), symlinks=True
    )
    modules = ROOT / "tests" / "rig" / "oidc" / "node_modules"
    if modules.exists():
        (scratch / "tests" / "rig" / "oidc" / "node_modules").symlink_to(modules)
    for name in ("pyproject.toml", "resources"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, scratch / name)
        elif source.exists():
            shutil.copy2(source, scratch / name)
    return scratch


def _pytest(scratch: Path, selection: list[str], timeout_s: float) -> str:
    env = {**os.environ, "PYTHONPATH": str(scratch), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", *selection]
    try:
        proc = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if proc.returncode == 0 else ("killed" if proc.returncode == 1 else f"error {proc.returncode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", type=Path, help="the module to mutate, e.g. desktop_app/core/tokens.py")
    parser.add_argument("selection", nargs="+", help="pytest arguments after --: the tests that should notice")
    parser.add_argument("--lines", help="only mutants on these lines, e.g. 40-120")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per pytest run (timeout: killed)")
    args = parser.parse_args(argv)

    target = args.target.resolve().relative_to(ROOT)
    source = (ROOT / target).read_text()
    mutants = list_mutants(source)
    if args.lines:
        low, _, high = args.lines.partition("-")
        mutants = [m for m in mutants if int(low) <= m.line <= int(high or low)]
    if args.list:
        for m in mutants:
            print(f"{target}:{m.line}: #{m.index} {m.description}")
        return 0

    scratch = _scratch_copy()
    try:
        baseline = _pytest(scratch, args.selection, args.timeout)
        if baseline != "survived":
            print(f"the selection does not pass on unmutated code ({baseline}); fix that first", file=sys.stderr)
            return 2
        survivors: list[Mutant] = []
        started = time.monotonic()
        for n, m in enumerate(mutants, 1):
            (scratch / target).write_text(mutate(source, m.index))
            outcome = _pytest(scratch, args.selection, args.timeout)
            print(f"[{n}/{len(mutants)}] {target}:{m.line} {m.description}: {outcome}", flush=True)
            if outcome == "survived":
                survivors.append(m)
        (scratch / target).write_text(source)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.monotonic() - started
    killed = len(mutants) - len(survivors)
    print(f"\n{killed}/{len(mutants)} mutants killed in {elapsed:.0f} s; survivors:")
    for m in survivors:
        print(f"  {target}:{m.line}: {m.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
