"""The repository explains itself and stays polite on a shared machine: it cites no document it
does not hold, names no package archive or registry host (each machine's own configuration says
where those are), and its CI and scripts stop no process by name.

The patterns are written so that this file does not match them itself.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _tracked() -> dict[str, str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.decode()
    texts: dict[str, str] = {}
    for name in filter(None, listed.split("\0")):
        try:
            texts[name] = (REPO / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
    return texts


def _hits(pattern: str, names: list[str] | None = None) -> list[str]:
    regex = re.compile(pattern, re.I)
    return [
        f"{name}:{number}: {line.strip()}"
        for name, text in _tracked().items()
        if names is None or any(name.startswith(n) for n in names)
        for number, line in enumerate(text.splitlines(), 1)
        if regex.search(line)
    ]


def test_no_document_outside_the_repository_is_cited() -> None:
    # The lab's contracts are docs/contracts.md; "wrap-up" is the post-mortem's closing talk.
    assert not _hits(r"b[r]ief")


def test_no_package_archive_or_registry_host_is_named() -> None:
    hosts = [
        r"deb[.]debian[.]org",
        r"[.]debian[.]org/",
        r"pypi[.]org",
        r"files[.]pythonhosted",
        r"(registry-1|index|hub|auth)[.]docker[.](io|com)",
        r"(ghcr|quay|gcr)[.]io",
    ]
    assert not _hits("|".join(hosts))


def test_ci_and_scripts_stop_no_process_by_name() -> None:
    assert not _hits(r"\b(p[k]ill|k[i]llall)\b", [".ci/", "scripts/", "Makefile"])
