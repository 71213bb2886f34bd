"""Install the project the way users deploy it: build the wheel, install it into a fresh venv
(not editable, not the source tree), and publish a digest from that install.

This is the proof that everything the package reads at run time (templates, seeds) ships inside it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import feedparser
import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(cmd: list[str], *, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the built wheel installed in it; its bin/ directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                  "-w", str(dist), str(ROOT)], cwd=tmp)
    assert built.returncode == 0, built.stderr
    wheels = list(dist.glob("digest_monitor-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bin_dir = env_dir / "bin"
    inst = _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 str(wheels[0])], cwd=tmp)
    assert inst.returncode == 0, inst.stderr
    return bin_dir


def test_the_wheel_ships_templates_and_seeds(installed: Path, tmp_path: Path) -> None:
    code = ("import importlib.resources as r, monitor; "
            "print(monitor.__file__); "
            "print(sorted(p.name for p in r.files('monitor.templates').iterdir() if p.name.endswith('.html'))); "
            "print(len([p for p in (r.files('monitor.demo') / 'seeds').iterdir()]))")
    r = _run([str(installed / "python"), "-c", code], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    where, templates, seeds = r.stdout.splitlines()
    assert str(installed.parent) in where and str(ROOT) not in where  # the install, not the checkout
    expected = sorted(p.name for p in (ROOT / "templates").glob("*.html"))
    assert templates == repr(expected)
    assert int(seeds) == len(list((ROOT / "monitor" / "demo" / "seeds").glob("*.txt")))


def test_the_installed_command_fetches_and_publishes(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "demo"
    r = _run([str(installed / "monitor"), "demo", "--no-serve", "--dir", str(work)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "fetched Iran Interlink: 10 new posts" in r.stdout
    page = work / "site" / "digests" / "2020-10-30.html"
    html = page.read_text(encoding="utf-8")
    assert "Iran Interlink Weekly Digest – Oct 30, 2020" in html
    feed = feedparser.parse((work / "site" / "feed.xml").read_bytes())
    assert feed.bozo == 0 and feed.entries
    assert any(e.link.endswith("digests/2020-10-30.html") for e in feed.entries)


def test_the_installed_command_writes_the_starter_config(installed: Path, tmp_path: Path) -> None:
    # the starter config is package data: `monitor init` works from a wheel, not only from a checkout
    r = _run([str(installed / "monitor"), "init"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    written = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    assert written == (ROOT / "monitor" / "starter_config.yaml").read_text(encoding="utf-8")
    assert "monitor add URL" in r.stdout


def test_the_wheel_holds_every_module_of_the_package(installed: Path, tmp_path: Path) -> None:
    # pyproject lists the packages by hand (templates/ is mapped in): a new subpackage left out of
    # that list would be missing from every install
    code = ("import monitor, pathlib; root = pathlib.Path(monitor.__file__).parent; "
            "print('\\n'.join(sorted(p.relative_to(root).as_posix() for p in root.rglob('*.py'))))")
    r = _run([str(installed / "python"), "-c", code], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    shipped = set(r.stdout.split())
    source = {p.relative_to(ROOT / "monitor").as_posix() for p in (ROOT / "monitor").rglob("*.py")
              if "__pycache__" not in p.parts}
    assert source <= shipped, sorted(source - shipped)
