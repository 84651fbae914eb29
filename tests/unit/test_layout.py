"""The package's layers, checked on its source: no import runs back up a floor, and only
``ddtrack/conf.py`` reads configuration.

Every ``ddtrack`` module is parsed (imports inside functions count too: a lazy import is
still a dependency) and each rule below names the floors a part of the package may not
reach. The floors, from the bottom: ``profile/`` (pure: numpy and the standard library),
``store/`` (the database), ``queries/`` (every question pages and commands ask), then what
runs them: ``server/`` in Airflow's processes, ``views/`` and ``cli/``. ``integrations/``
runs in the worker and ``auth`` in the api-server: neither needs the other, nor the views.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ddtrack"

# Leaf modules anyone may import: settings, durations, the URL of the pages, the check
# declarations DAG files make (numpy-free, built on profile/'s keys).
LEAVES = {"ddtrack", "ddtrack.conf", "ddtrack.duration", "ddtrack.urls", "ddtrack.checks"}

# (part of the package, parts it must never import)
RULES = [
    ("ddtrack.profile", ("ddtrack.store", "ddtrack.queries", "ddtrack.server", "ddtrack.views", "ddtrack.cli",
                         "ddtrack.integrations", "ddtrack.auth", "ddtrack.plugin", "ddtrack.decorator",
                         "ddtrack.record", "ddtrack.engines")),
    ("ddtrack.store", ("ddtrack.queries", "ddtrack.server", "ddtrack.views", "ddtrack.cli", "ddtrack.integrations",
                       "ddtrack.auth", "ddtrack.plugin", "ddtrack.decorator")),
    ("ddtrack.queries", ("ddtrack.server", "ddtrack.views", "ddtrack.cli", "ddtrack.auth", "ddtrack.plugin",
                         "ddtrack.decorator")),
    ("ddtrack.integrations", ("ddtrack.views", "ddtrack.auth", "ddtrack.server", "ddtrack.cli", "ddtrack.queries",
                              "ddtrack.store", "ddtrack.plugin")),
    ("ddtrack.auth", ("ddtrack.integrations", "ddtrack.views", "ddtrack.queries", "ddtrack.store", "ddtrack.server",
                      "ddtrack.cli", "ddtrack.plugin")),
    ("ddtrack.server", ("ddtrack.views", "ddtrack.cli", "ddtrack.plugin")),
    ("ddtrack.views", ("ddtrack.store", "ddtrack.server", "ddtrack.cli", "ddtrack.plugin")),
    ("ddtrack.decorator", ("ddtrack.store", "ddtrack.queries", "ddtrack.server", "ddtrack.views", "ddtrack.cli")),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {
        _module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
        for p in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in p.parts
    }


def _imports(module: str, tree: ast.Module, is_package: bool) -> list[tuple[str, str | None]]:
    """(module imported, name taken from it or None) for every import in ``tree``."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for a in node.names:
                submodule = f"{target}.{a.name}"
                found.append((submodule, None) if submodule in MODULES else (target, a.name))
    return found


MODULES = _modules()
PACKAGES = {_module_name(p) for p in PACKAGE.rglob("__init__.py")}
IMPORTS = {m: _imports(m, tree, m in PACKAGES) for m, tree in MODULES.items()}


def _within(module: str, part: str) -> bool:
    return module == part or module.startswith(part + ".")


@pytest.mark.parametrize(("part", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_no_import_runs_up_a_floor(part, forbidden):
    wrong = sorted(
        f"{module} imports {target}"
        for module, imports in IMPORTS.items() if _within(module, part)
        for target, _ in imports if any(_within(target, f) for f in forbidden)
    )
    assert wrong == []


def test_profile_is_pure():
    """profile/ imports nothing of ddtrack but itself and the leaf modules."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, imports in IMPORTS.items() if _within(module, "ddtrack.profile")
        for target, _ in imports
        if _within(target, "ddtrack") and not _within(target, "ddtrack.profile") and target not in LEAVES
    )
    assert wrong == []


def test_no_private_name_is_taken_from_another_part():
    """A private helper another part needs goes down to a module of its own, public."""
    def home(module: str) -> str:
        return module if module in PACKAGES else module.rpartition(".")[0]

    wrong = sorted(
        f"{module} takes {target}.{name}"
        for module, imports in IMPORTS.items()
        for target, name in imports
        if _within(target, "ddtrack") and name and name.startswith("_") and not name.startswith("__")
        and home(target) != home(module)
    )
    assert wrong == []


def test_commands_share_through_cli_common():
    """A command module imports nothing from a sibling command: what they share is in cli/common.py
    (the group itself, ``ddtrack.cli``, imports the command modules to register them)."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, imports in IMPORTS.items() if _within(module, "ddtrack.cli") and module != "ddtrack.cli"
        for target, name in imports
        if _within(target, "ddtrack.cli") and target not in ("ddtrack.cli", "ddtrack.cli.common")
        and target != module
    )
    assert wrong == []


def _reads_configuration(tree: ast.Module) -> list[str]:
    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            reads.append(f"os.{node.attr} (line {node.lineno})")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(n.startswith("airflow.configuration") for n in names):
                reads.append(f"airflow.configuration (line {node.lineno})")
    return reads


def test_only_conf_reads_configuration():
    wrong = {m: r for m, tree in MODULES.items() if m != "ddtrack.conf" and (r := _reads_configuration(tree))}
    assert wrong == {}


def test_the_rules_see_a_violation():
    """The scan itself works: an upward import and a configuration read are found in made-up code."""
    tree = ast.parse("def f():\n    import os\n    from ddtrack.views.asgi import MOUNT_PATH\n    return os.environ\n")
    assert ("ddtrack.views.asgi", "MOUNT_PATH") in _imports("ddtrack.integrations.x", tree, False)
    assert _reads_configuration(tree) == ["os.environ (line 4)"]
