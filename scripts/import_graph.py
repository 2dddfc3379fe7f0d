"""Print desktop_app's internal import graph as Markdown, or rewrite/check its copy in docs/ARCHITECTURE.md.

Usage: .venv/bin/python scripts/import_graph.py [--write | --check]

Each line is one module and the package modules it imports; imports inside functions (deferred so a start-up
path stays light) are marked with *. tests/test_architecture_doc.py fails when the document's copy is stale.
"""

from __future__ import annotations

import argparse
import ast
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "desktop_app"
DOC = ROOT / "docs" / "ARCHITECTURE.md"
WIDTH = 116
START, END = "<!-- import-graph:start -->", "<!-- import-graph:end -->"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path, modules: set[str]) -> dict[str, bool]:
    """Package modules `path` imports -> whether every such import is deferred (inside a function)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    found: dict[str, bool] = {}

    def add(target: str, deferred: bool) -> None:
        while target and target not in modules:
            target = target.rpartition(".")[0]  # `from .x import Name`: the module is x
        if target and target != name:
            found[target] = found.get(target, True) and deferred

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = deferred or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, deferred)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join([*base, child.module] if child.module else base)
                else:
                    module = child.module or ""
                for alias in child.names:
                    add(f"{module}.{alias.name}", deferred)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # annotations only: no run-time edge
            visit(child, inner)

    visit(tree, False)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def graph() -> str:
    files = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    modules = {module_name(p) for p in files}
    lines = []
    for path in files:
        name = module_name(path)
        deps = internal_imports(path, modules)
        short = name.removeprefix("desktop_app.") if name != "desktop_app" else name
        shown = ", ".join(
            d.removeprefix("desktop_app.") + ("*" if deferred else "") for d, deferred in sorted(deps.items())
        )
        lines.extend(
            textwrap.wrap(
                f"{short:<22} -> {shown or '(nothing in the package)'}",
                width=WIDTH,
                subsequent_indent=" " * 26,
                break_on_hyphens=False,
            )
        )
    return "```\n" + "\n".join(lines) + "\n```"


def with_graph(doc: str) -> str:
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{graph()}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite the graph in docs/ARCHITECTURE.md")
    action.add_argument("--check", action="store_true", help="exit 1 when docs/ARCHITECTURE.md's graph is stale")
    args = parser.parse_args()
    if not (args.write or args.check):
        print(graph())
        return 0
    doc = DOC.read_text()
    if START not in doc or END not in doc:
        print(f"{DOC} has no {START} ... {END} block", file=sys.stderr)
        return 1
    fresh = with_graph(doc)
    if args.check:
        if fresh != doc:
            print(f"{DOC}'s import graph is stale: run scripts/import_graph.py --write", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
