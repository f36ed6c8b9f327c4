"""The package's shape, as docs/architecture.md draws it: which stage may import which.

Read from the source text, so this runs in the fast tier without importing anything. A new
import across stages either fits the table below (and the picture in docs/architecture.md) or
this test names it; a private module (``autoann.X._y``) is never imported from outside X.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "autoann"

#: top-level modules shared by several stages
SHARED = {"errors", "_io", "_tf", "_extras", "schema", "metrics", "params", "layers", "fitted_run", "_deprecated"}
#: stage or door -> the stages it may import (besides the shared modules)
ALLOWED = {
    "data": set(),
    "profiling": {"data", "space"},
    "space": {"data"},
    "rules": {"data", "profiling", "space"},
    "search": {"data", "profiling", "space", "rules", "export"},
    "export": {"data"},
    "predict": {"data", "export"},
    "serve": {"data", "export", "predict"},
    "cli": {"data", "profiling", "space", "rules", "search", "export", "predict", "serve"},
    "estimators": {"data", "profiling", "space", "rules", "search", "export", "predict"},
}
#: shared modules never reach into a stage, except these (a type they describe, a table they check)
SHARED_ALLOWED = {"metrics": {"data"}, "fitted_run": {"profiling", "space"}}

IMPORT = re.compile(r"^\s*(?:from|import) autoann\.([A-Za-z_]+)((?:\.[A-Za-z_]+)*)", re.M)


def _imports(owner: str) -> list[tuple[Path, str, str]]:
    files = sorted((PACKAGE / owner).rglob("*.py")) if (PACKAGE / owner).is_dir() else [PACKAGE / f"{owner}.py"]
    return [(f, m.group(1), m.group(2)) for f in files for m in IMPORT.finditer(f.read_text(encoding="utf-8"))]


def test_every_subpackage_is_in_the_table():
    found = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert found == set(ALLOWED), "add the new subpackage to ALLOWED and to docs/architecture.md"


@pytest.mark.parametrize("owner", sorted(ALLOWED))
def test_a_stage_imports_only_the_stages_before_it(owner):
    wrong = [f"{f.relative_to(PACKAGE.parent)}: autoann.{target}{rest}" for f, target, rest in _imports(owner)
             if target != owner and target not in SHARED and target not in ALLOWED[owner]]
    assert not wrong, f"{owner} may import {sorted(ALLOWED[owner]) or 'no stage'}; found {wrong}"


@pytest.mark.parametrize("owner", sorted(ALLOWED))
def test_no_stage_imports_another_stages_private_modules(owner):
    wrong = [f"{f.relative_to(PACKAGE.parent)}: autoann.{target}{rest}" for f, target, rest in _imports(owner)
             if target != owner and target in ALLOWED and rest.startswith("._")]
    assert not wrong, f"import the public names of the subpackage's __init__ instead: {wrong}"


@pytest.mark.parametrize("module", sorted(SHARED - {"_deprecated"}))
def test_shared_modules_stay_below_the_stages(module):
    wrong = [f"autoann.{target}{rest}" for _, target, rest in _imports(module)
             if target in ALLOWED and target not in SHARED_ALLOWED.get(module, set())]
    assert not wrong, f"autoann/{module}.py is shared by the stages and must not import {wrong}"
