"""The architecture as the design draws it: imports point down only (cli, api and eval use qa;
qa uses index and prompts), no two eval modules import each other, modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

CALLERS = ("api", "eval", "cli")


def imports(path: Path) -> set[str]:
    """The top-level package.module names a file imports (anywhere in it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_qa_index_and_prompts_import_no_caller() -> None:
    for package in ("qa", "index", "prompts"):
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = {m for m in imports(path) if m.split(".")[0] in CALLERS}
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_index_imports_nothing_of_qa() -> None:
    for path in sorted((ROOT / "index").rglob("*.py")):
        bad = {m for m in imports(path) if m.split(".")[0] == "qa"}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_no_two_eval_modules_import_each_other() -> None:
    modules = {f"eval.{p.stem}": imports(p) for p in (ROOT / "eval").glob("*.py")}
    for name, deps in modules.items():
        for other in deps & set(modules):
            assert name not in modules[other], f"{name} and {other} import each other"


def test_the_engine_is_orchestration_only() -> None:
    engine = (ROOT / "qa" / "engine.py").read_text().splitlines()
    assert len(engine) < 250
    for package in ("qa", "index", "api", "cli"):
        for path in (ROOT / package).rglob("*.py"):
            assert len(path.read_text().splitlines()) < 450, path
