"""The dependency rules of the workspace, checked on the source (every file that exists) and at run time.

clinic_core is plain Python: it imports no framework, no driver and none of the packages that depend on it.
Libraries never import apps, and in the API only the composition root sees clinic_infra.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "packages" / "clinic_core" / "src" / "clinic_core"
INFRA = ROOT / "packages" / "clinic_infra" / "src" / "clinic_infra"
API = ROOT / "apps" / "api" / "src" / "clinic_api"

FORBIDDEN_IN_CORE = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "psycopg",
        "psycopg2",
        "asyncpg",
        "aiosqlite",
        "redis",
        "rq",
        "blacksheep",
        "rodi",
        "uvicorn",
        "pydantic",
        "pydantic_core",
        "pydantic_settings",
        "jwt",
        "clinic_infra",
        "clinic_api",
        "clinic_worker",
    }
)
API_MODULES_ALLOWED_INFRA = frozenset({"composition.py"})


def _imported_roots(path: Path) -> set[str]:
    """The top-level package of every absolute import in ``path``, wherever it appears in the file."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _imports_by_file(package_dir: Path) -> dict[Path, set[str]]:
    files = sorted(package_dir.rglob("*.py"))
    assert files, f"no Python files under {package_dir}: the check would prove nothing"
    return {path.relative_to(ROOT): _imported_roots(path) for path in files}


def test_the_static_check_sees_imports() -> None:
    # A walker that found nothing would pass every rule below.
    core = _imports_by_file(CORE)
    assert any("returns" in roots for roots in core.values())
    assert any("clinic_core" in roots for roots in core.values())
    assert _imported_roots(Path(__file__)) >= {"ast", "subprocess"}


def test_clinic_core_imports_no_framework_driver_or_outer_package() -> None:
    offending = {
        str(path): sorted(roots & FORBIDDEN_IN_CORE)
        for path, roots in _imports_by_file(CORE).items()
        if roots & FORBIDDEN_IN_CORE
    }
    assert offending == {}


_LOAD_ALL_OF_CORE = """
import importlib, json, pkgutil, sys
import clinic_core

failed = []
names = [m.name for m in pkgutil.walk_packages(clinic_core.__path__, "clinic_core.", onerror=failed.append)]
for name in names:
    importlib.import_module(name)
forbidden = set(json.loads(sys.argv[1]))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(json.dumps({"modules": names, "failed": failed, "forbidden_loaded": loaded}))
"""


def test_importing_every_clinic_core_module_loads_none_of_them() -> None:
    # A fresh interpreter: this test process has long since imported whatever other tests needed.
    completed = subprocess.run(
        [sys.executable, "-c", _LOAD_ALL_OF_CORE, json.dumps(sorted(FORBIDDEN_IN_CORE))],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["failed"] == []
    expected = {
        f"clinic_core.{p.relative_to(CORE).with_suffix('').as_posix().replace('/', '.')}"
        for p in CORE.rglob("*.py")
    }
    expected = {name.removesuffix(".__init__") for name in expected} - {"clinic_core"}
    assert set(report["modules"]) == expected  # every module was imported, not just the package
    assert report["forbidden_loaded"] == []


def test_clinic_infra_never_imports_the_apps() -> None:
    offending = {
        str(path): sorted(roots & {"clinic_api", "clinic_worker"})
        for path, roots in _imports_by_file(INFRA).items()
        if roots & {"clinic_api", "clinic_worker"}
    }
    assert offending == {}


def test_only_the_composition_root_of_the_api_imports_clinic_infra() -> None:
    importers = {
        path.relative_to(API.relative_to(ROOT)).as_posix()
        for path, roots in _imports_by_file(API).items()
        if "clinic_infra" in roots
    }
    assert importers <= API_MODULES_ALLOWED_INFRA, sorted(importers - API_MODULES_ALLOWED_INFRA)
