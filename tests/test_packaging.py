"""One project file, and locks that agree with it: every pin of pyproject.toml (the build system
included) is locked at the same version, every locked distribution carries hashes, and the
runtime lock holds no dev tool."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DEV_TOOLS = {"pytest", "ruff", "mypy", "mongomock", "hypothesis", "schemathesis", "uv"}


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>~! ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(requirements: list[str]) -> dict[str, str]:
    return {_name(r): r.split("==", 1)[1] for r in requirements}


def _locked(lock: str) -> dict[str, str]:
    """name -> version of every `name==version ... \\` entry, each checked for hashes."""
    text = (ROOT / lock).read_text()
    entries = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)(.*?)(?=^\S|\Z)", text, re.M | re.S)
    assert entries
    for name, _version, rest in entries:
        assert "--hash=sha256:" in rest, f"{lock}: {name} has no hash"
    return {_name(name): version for name, version, _rest in entries}


def test_every_dependency_is_pinned_exactly():
    for requirement in [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["dev"]]:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", requirement), requirement


def test_the_runtime_lock_holds_the_runtime_pins_and_no_dev_tool():
    locked = _locked("requirements.lock")
    for name, version in _pins(PROJECT["dependencies"]).items():
        assert locked.get(name) == version, name
    assert not DEV_TOOLS & set(locked)


def test_the_dev_lock_holds_every_pin():
    locked = _locked("requirements-dev.lock")
    pins = _pins([*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["dev"]])
    for name, version in pins.items():
        assert locked.get(name) == version, name


def test_the_dev_lock_agrees_with_the_runtime_lock():
    runtime, dev = _locked("requirements.lock"), _locked("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_the_build_lock_holds_the_build_system_pins():
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert _locked("requirements-build.lock") == _pins(build)


def test_the_wheel_holds_every_top_level_module_and_package():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    modules = {path.stem for path in ROOT.glob("*.py")}
    assert set(setuptools["py-modules"]) == modules
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    included = setuptools["packages"]["find"]["include"]
    assert {name.removesuffix("*") for name in included} == packages
