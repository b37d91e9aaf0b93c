"""uv.lock agrees with pyproject.toml, so `make run` installs what pyproject.toml asks for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]


def _uv() -> str:
    """Return the uv the Makefile bootstrapped into the venv, else one on PATH."""
    candidates = [os.environ.get("UV"), str(Path(sys.prefix) / "uv" / "bin" / "uv")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("uv")
    if found is None:
        unavailable("uv (`make test` installs it into .venv/uv)", FileNotFoundError("uv"))
    return found


def _lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    # --offline: deciding whether the lock satisfies pyproject.toml needs no index.
    return subprocess.run(
        [_uv(), "lock", "--check", "--offline", "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lock_file_matches_pyproject() -> None:
    result = _lock_check(ROOT)
    assert result.returncode == 0, f"run `make lock`:\n{result.stderr}"


def test_a_dependency_missing_from_the_lock_is_caught(tmp_path: Path) -> None:
    # The check above must be able to fail: a copy of the project passes until its
    # pyproject.toml gains a dependency the lock does not pin.
    for name in ("uv.lock", "README.md", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    assert _lock_check(tmp_path).returncode == 0
    pyproject = (tmp_path / "pyproject.toml").read_text()
    assert '    "click>=8.1",\n' in pyproject
    (tmp_path / "pyproject.toml").write_text(
        pyproject.replace('    "click>=8.1",\n', '    "click>=8.1",\n    "croniter>=2.0",\n')
    )
    assert _lock_check(tmp_path).returncode != 0
