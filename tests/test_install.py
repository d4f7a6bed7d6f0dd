"""Installed like any other package: a wheel, a fresh virtualenv, and newsetl run from an empty folder."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEED_A, SEED_B

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Warnings a build backend prints by class name (SetuptoolsDeprecationWarning, BuildBackendWarning, ...);
# pip's own "WARNING: Location ... is ignored" lines come from this machine's pip config, not the project.
BUILD_WARNING = re.compile(r"[A-Za-z]+Warning\b|would be ignored|is absent from the `packages`")


def _run(args: list[str | Path], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    out = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{args}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv with newsetl installed from a wheel built from this checkout; returns its bin/."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    # Build from a copy (symlinked data folders included) so the checkout gets no build/ or egg-info.
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(".venv", ".git", "warehouse", ".*cache*"))
    build = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp / "dist", src], cwd=tmp)
    warnings = [ln for ln in (build.stdout + build.stderr).splitlines() if BUILD_WARNING.search(ln)]
    assert not warnings, "the build printed packaging warnings:\n" + "\n".join(warnings)
    [wheel] = (tmp / "dist").glob("newsetl-*.whl")
    _run([sys.executable, "-m", "venv", tmp / "venv"], cwd=tmp)
    bin_ = tmp / "venv" / "bin"
    _run([bin_ / "python", "-m", "pip", "install", "--quiet", wheel], cwd=tmp, timeout=1200)
    return bin_


def test_wheel_installs_and_runs_from_an_empty_folder(installed, tmp_path):
    """`newsetl run --no-prefect` from an empty folder loads the bundled samples with the packaged suite."""
    empty = tmp_path / "empty"
    empty.mkdir()
    _run([installed / "newsetl", "run", "--no-prefect", "--quiet"], cwd=empty)
    out = _run([installed / "newsetl", "query", "SELECT count(*) AS n FROM articles", "--format", "csv"], cwd=empty)
    assert out.stdout.split() == ["n", "15"]
    where = _run([installed / "python", "-c", "import newsetl, newsetl_flows; print(newsetl.__file__)"], cwd=empty)
    assert str(ROOT) not in where.stdout, "the installed package must not be the checkout"
    site = next((installed.parent / "lib").glob("python*/site-packages"))
    assert not (site / "flows").exists(), "the flows package installs as newsetl_flows, not `flows`"


def test_installed_newsetl_loads_the_seeds(installed, tmp_path):
    """The two seed files (one story, two outlets, two layouts) load as two articles from an installed newsetl."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for seed in (SEED_A, SEED_B):
        if not seed.exists():
            pytest.skip(f"{seed} is not available (../shared is only beside CI and developer checkouts)")
        shutil.copy(seed, landing / seed.name)
    _run([installed / "newsetl", "run", "--no-prefect", "--quiet", landing], cwd=tmp_path)
    out = _run(
        [installed / "newsetl", "query", "SELECT outlet_name FROM articles ORDER BY 1", "--format", "csv"],
        cwd=tmp_path,
    )
    assert out.stdout.splitlines() == ["outlet_name", "CNN Brasil", "Ukrainian News Agency"]
