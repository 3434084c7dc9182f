"""The deployable bundle: same tree → same bytes and hash; any change → another hash; the layout Cloud
Functions needs (main.py at the root exposing every entry point, pinned requirements)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra import package
from shared.manifest import manifest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of what the bundle is made of, to change freely."""
    root = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in package.PACKAGES:
        shutil.copytree(ROOT / name, root / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_same_tree_gives_the_same_bytes_and_hash(tree: Path, tmp_path: Path) -> None:
    first = package.build(tree, tmp_path / "out1")
    # Touch every file: timestamps must not leak into the archive.
    for path in tree.rglob("*"):
        path.touch()
    second = package.build(tree, tmp_path / "out2")

    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.path.name == package.archive_name(first.sha256) == f"function-source-{first.sha256[:16]}.zip"


def test_any_code_change_gives_another_hash(tree: Path, tmp_path: Path) -> None:
    before = package.build(tree, tmp_path / "out").sha256

    target = tree / "shared" / "chain" / "graph.py"
    target.write_text(target.read_text() + "\n# a change\n")
    edited = package.build(tree, tmp_path / "out").sha256
    (tree / "functions" / "new_door.py").write_text("X = 1\n")
    added = package.build(tree, tmp_path / "out").sha256

    assert len({before, edited, added}) == 3
    # Only the newest archive stays in the output directory.
    assert [p.name for p in (tmp_path / "out").glob("*.zip")] == [package.archive_name(added)]


def test_caches_and_hidden_files_do_not_change_the_hash(tree: Path, tmp_path: Path) -> None:
    before = package.build(tree, tmp_path / "out")
    (tree / "shared" / "__pycache__").mkdir(exist_ok=True)
    (tree / "shared" / "__pycache__" / "config.cpython-311.pyc").write_bytes(b"\0junk")
    (tree / "functions" / "stray.pyc").write_bytes(b"\0junk")
    (tree / "shared" / ".DS_Store").write_bytes(b"junk")
    after = package.build(tree, tmp_path / "out")

    assert after.sha256 == before.sha256
    assert not [f for f in after.files if "__pycache__" in f or f.endswith(".pyc") or "/." in f]


def test_archive_layout(tree: Path, tmp_path: Path) -> None:
    bundle = package.build(tree, tmp_path / "out")
    with zipfile.ZipFile(bundle.path) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        requirements = archive.read("requirements.txt").decode()
        shim = archive.read("main.py").decode()

    assert names == sorted(names) == list(bundle.files)
    assert {"main.py", "requirements.txt", "functions/main.py", "shared/config.py"} <= set(names)
    assert all(
        n.startswith(("functions/", "shared/")) for n in names if n not in {"main.py", "requirements.txt"}
    )
    assert all(i.date_time == package.FIXED_DATE_TIME for i in infos)
    assert all(i.external_attr >> 16 == 0o100644 for i in infos)
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert "from functions.main import *" in shim

    # Every line is an exact pin, and every direct runtime dependency is pinned within its range.
    pins = dict(line.split("==") for line in requirements.splitlines())
    assert list(pins) == sorted(pins)
    direct = tomllib.loads((tree / "pyproject.toml").read_text())["project"]["dependencies"]
    for spec in map(Requirement, direct):
        name = canonicalize_name(spec.name)
        assert name in pins, f"{name} is not pinned"
        assert spec.specifier.contains(pins[name], prereleases=True)
    # Transitive runtime dependencies are pinned too; development tools are not.
    assert "protobuf" in pins and "pytest" not in pins and "ruff" not in pins


def test_shim_exposes_every_entry_point(tree: Path, tmp_path: Path) -> None:
    bundle = package.build(tree, tmp_path / "out")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle.path) as archive:
        archive.extractall(unpacked)
    names = sorted(manifest().entry_points)
    probe = (
        "import json, main, functions.main as m;"
        f"missing = [n for n in {names!r} if not callable(getattr(main, n, None))];"
        "print(json.dumps({'file': m.__file__, 'missing': missing}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=unpacked, capture_output=True, text=True, check=True, timeout=60
    )
    result = json.loads(out.stdout)
    assert result["missing"] == []
    assert Path(result["file"]).resolve().is_relative_to(unpacked.resolve())


def test_cli_prints_hash_or_json(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert package.main(["--out", str(out), "--root", str(tree)]) == 0
    sha, path = capsys.readouterr().out.split()
    assert Path(path) == out / package.archive_name(sha)

    assert package.main(["--out", str(out), "--root", str(tree), "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["sha256"] == sha
    assert Path(described["path"]).is_file()
    assert "main.py" in described["files"]


def test_the_repository_tracks_no_machine_local_state() -> None:
    """Install stamps and virtualenvs belong to one machine: a committed `.apt.stamp` once told every
    fresh checkout that espeak-ng was installed, so nothing installed it."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert tracked, "not a git checkout"
    local = [p for p in tracked if p.endswith(".stamp") or p.split("/")[0].startswith(".venv")]
    assert local == []
