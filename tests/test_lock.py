"""The lock: constraints.txt pins every dependency pyproject.toml declares, inside its range, and
every install (make install, the Docker image, CI's wheelhouse) goes through it."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        assert not line.startswith("-"), f"an option in the lock: {line!r}"
        name, sep, version = line.partition("==")
        assert sep and version, f"not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = version
    return pins


def _declared() -> list[Requirement]:
    texts = list(PROJECT["dependencies"])
    for extra in PROJECT["optional-dependencies"].values():
        texts += extra
    return [Requirement(text) for text in texts]


def test_every_declared_dependency_is_pinned_inside_its_range() -> None:
    pins = _pins()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in constraints.txt: make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside {requirement}: make lock"
        )


def test_the_lock_says_how_it_was_made_and_for_which_python() -> None:
    head = (REPO / "constraints.txt").read_text(encoding="utf-8")[:600]
    assert "pip-compile with Python 3.11" in head


def test_every_install_goes_through_the_lock() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"pip install .*-c \$\(CONSTRAINTS\) -e '\.\[dev\]'", makefile)
    assert re.search(r"^lock:.*## ", makefile, re.MULTILINE)
    dockerfile = (REPO / "infra" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY pyproject.toml constraints.txt" in dockerfile
    assert "-c constraints.txt" in dockerfile
    wheelhouse = (REPO / "scripts" / "docker-ci-engine").read_text(encoding="utf-8")
    assert "-c constraints.txt" in wheelhouse
