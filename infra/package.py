"""The deployable source bundle of the Cloud Functions: one deterministic zip, named by its content hash.

    python -m infra.package --out build/         # writes function-source-<sha256[:16]>.zip, prints sha256
    python -m infra.package --out build/ --json  # prints {"path", "sha256", "files"}

The archive holds `main.py` (a shim: Cloud Functions loads the entry points from main.py at the root),
`functions/`, `shared/` and a `requirements.txt` pinning the whole runtime dependency closure — the
[project.dependencies] of pyproject.toml and everything they require, at the exact versions installed in
the environment that ran the tests — so the cloud builds what was tested, not whatever the resolver finds
that day. Entries are sorted, stored uncompressed (compressed bytes would depend on the zlib build), with
fixed timestamps and permissions, so the same tree gives the same bytes and the same hash on any machine,
and any change to the code or a pinned version gives another name — Terraform then redeploys.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("functions", "shared")
RUNTIME_PYTHON = (3, 11)  # python311 in terraform/modules/http_function
ARCHIVE_PREFIX = "function-source-"
HASH_PREFIX_CHARS = 16  # terraform/storage.tf names the object with the same 16 hex characters
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record
FILE_MODE = 0o100644  # regular file, rw-r--r--
SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")

MAIN_SHIM = b'''"""Cloud Functions loads its entry points from main.py; they all live in functions/main.py."""

from functions.main import *  # noqa: F403
'''


@dataclass(frozen=True)
class Bundle:
    path: Path
    sha256: str
    files: tuple[str, ...]


def archive_name(sha256: str) -> str:
    return f"{ARCHIVE_PREFIX}{sha256[:HASH_PREFIX_CHARS]}.zip"


def source_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every file under the packages, without caches and hidden files."""
    for package in PACKAGES:
        base = root / package
        if not (base / "__init__.py").is_file():
            raise FileNotFoundError(f"{base} is not a Python package")
        for path in base.rglob("*"):
            rel = path.relative_to(root)
            if not path.is_file() or path.name.endswith(SKIPPED_SUFFIXES):
                continue
            if any(part in SKIPPED_DIRS or part.startswith(".") for part in rel.parts):
                continue
            yield rel.as_posix(), path


def pinned_requirements(pyproject: Path) -> str:
    """requirements.txt: the runtime closure of [project.dependencies], pinned to the installed versions."""
    direct = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    versions: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    pending = [req for req in map(Requirement, direct) if req.marker is None or req.marker.evaluate()]
    while pending:
        req = pending.pop()
        name = canonicalize_name(req.name)
        extras = extras_seen.setdefault(name, set())
        if name in versions and set(req.extras) <= extras:
            continue
        extras |= set(req.extras)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(
                f"{req.name} is a runtime dependency but is not installed; install the project first"
            ) from None
        if not req.specifier.contains(dist.version, prereleases=True):
            raise SystemExit(f"installed {req.name} {dist.version} does not satisfy {req}")
        versions[name] = dist.version
        pending.extend(_runtime_requires(dist, extras))
    return "".join(f"{name}=={versions[name]}\n" for name in sorted(versions))


def _runtime_requires(dist: metadata.Distribution, extras: Iterable[str]) -> Iterator[Requirement]:
    """What `dist` needs here (this interpreter and platform are the runtime's: Python 3.11 on Linux)."""
    for spec in dist.requires or ():
        req = Requirement(spec)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *extras)):
            yield req


def archive_bytes(root: Path) -> tuple[bytes, tuple[str, ...]]:
    if sys.version_info[:2] != RUNTIME_PYTHON:
        # Pins and environment markers are resolved for this interpreter: it must be the runtime's.
        raise SystemExit(f"package with Python {'.'.join(map(str, RUNTIME_PYTHON))}, the functions' runtime")
    entries: dict[str, bytes] = {name: path.read_bytes() for name, path in source_files(root)}
    entries["main.py"] = MAIN_SHIM
    entries["requirements.txt"] = pinned_requirements(root / "pyproject.toml").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode above is honoured wherever the zip is made
            archive.writestr(info, entries[name])
    return buffer.getvalue(), tuple(sorted(entries))


def build(root: Path, out_dir: Path) -> Bundle:
    """Write the archive into out_dir (replacing older archives there) and describe it."""
    data, files = archive_bytes(root)
    sha256 = hashlib.sha256(data).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / archive_name(sha256)
    for stale in out_dir.glob(f"{ARCHIVE_PREFIX}*.zip"):
        if stale != target:
            stale.unlink()
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)
    return Bundle(path=target, sha256=sha256, files=files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build"), help="output directory (default: build)")
    parser.add_argument("--root", type=Path, default=ROOT, help="project root (default: this checkout)")
    parser.add_argument("--json", action="store_true", help='print {"path", "sha256", "files"}')
    args = parser.parse_args(argv)
    bundle = build(args.root.resolve(), args.out)
    if args.json:
        print(json.dumps({"path": str(bundle.path), "sha256": bundle.sha256, "files": list(bundle.files)}))
    else:
        print(f"{bundle.sha256}  {bundle.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
