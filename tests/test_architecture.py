"""Rules of the code's shape that import-linter (run by `make test`, see .importlinter) cannot state: every
app sits in a layer, and no module reaches into another module's private names."""

from __future__ import annotations

import ast
import configparser
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ROOT / "apps"


def _modules():
    for path in sorted(APPS.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_every_app_sits_in_a_layer():
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = config["importlinter:contract:layers"]["layers"].replace("|", "\n").split()
    apps = {f"apps.{p.name}" for p in APPS.iterdir() if (p / "apps.py").exists()}
    assert apps == set(layers), f"apps outside the layers contract: {sorted(apps - set(layers))}"


def test_no_module_uses_another_modules_private_names():
    offences = []
    for module, path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        modules_here: dict[str, str] = {}  # local name -> one of our modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _resolve(module, node, is_package)
                for alias in node.names:
                    if _private(alias.name) and source != module:
                        offences.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {source}.{alias.name}")
                    if source.startswith("apps") and _is_module(f"{source}.{alias.name}"):
                        modules_here[alias.asname or alias.name] = f"{source}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("apps.") and alias.asname:
                        modules_here[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules_here and _private(node.attr)):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {modules_here[node.value.id]}.{node.attr}")
    assert offences == []
