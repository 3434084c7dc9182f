"""Cold import of each Cloud Function entry point next to the import cost of the client libraries that
function really needs, as a ratio (target ≤ 1.15).

An entry point's cold cost is what its first request pays: functions.main, the entry point's door module,
the modules its handler imports when called, and the adapters its first request builds. Which adapters:
the container attributes (`c.name`) its step module or its handler uses, with the attributes those
adapters use in turn (`self.name` in shared/bootstrap.py), each adapter being the modules its property
imports. All of this is read from the source, so a new adapter or step is measured without editing here.

The baseline is the libraries that function really needs: functions_framework, pydantic and
pydantic-settings, the third-party imports of its adapters' modules (and of the shared modules those
import), and the few libraries a step's own domain code needs (Pillow draws thumbnails and captions).
In one fresh interpreter per run the baseline is imported first (t_libs), then the entry point's own
modules (t_own: our code, plus any library the baseline does not list — an entry point that imports a
client it does not use shows up here). ratio = (t_libs + t_own) / t_libs; medians over --repeat fresh
interpreters.

Bytecode: pip byte-compiles the libraries when it installs them, and the Cloud Functions build runs
`python3 -m compileall -f -q .` on the function's source (GoogleCloudPlatform/buildpacks,
python/functions_framework), so a deployed function loads both from .pyc. Here our modules are compiled
the same way first, in a copy of our packages (this machine sets PYTHONDONTWRITEBYTECODE, which would
otherwise make every run compile our source again). `--from-source` measures the repository as it is,
without that step: what a first import costs when nothing was compiled.

    python tests/bench/bench_cold_import.py [--repeat 5] [--from-source] [--json]
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from infra.local.functions_host import entry_points  # noqa: E402

# Libraries every function needs: the framework, validation, the one settings object, structured logs.
BASE_LIBS = ("functions_framework", "pydantic", "pydantic_settings", "pythonjsonlogger.json")
# Libraries a step's own domain code needs besides its adapters.
STEP_LIBS = {
    "step_thumbnail": ("PIL.Image", "PIL.ImageDraw", "PIL.ImageFont"),
    "step_render": ("PIL.Image", "PIL.ImageDraw", "PIL.ImageFont"),  # captions are drawn with Pillow
}
# Every step's first request builds the chain runner's adapters.
RUNNER_ATTRIBUTES = {"jobs", "queue", "policy"}
OURS = ("shared", "functions", "infra", "tests")


def _module_path(module: str) -> Path:
    path = REPO / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@functools.cache
def _tree(module: str) -> ast.Module:
    return ast.parse(_module_path(module).read_text())


def _imports(node: ast.AST, *, at_import_only: bool = False) -> set[str]:
    """Modules imported under `node` (`from a import b` counts as a.b when that is a module); with
    `at_import_only`, only those an import of the module runs (not inside functions or TYPE_CHECKING)."""
    found = set()
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, ast.Import):
            found |= {alias.name for alias in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
            for alias in n.names:
                full = f"{n.module}.{alias.name}"
                found.add(full if _is_module(full) else n.module)
        if at_import_only and (
            isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            or (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))
        ):
            continue
        todo.extend(ast.iter_child_nodes(n))
    return found


@functools.cache
def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _ours(module: str) -> bool:
    return module.split(".")[0] in OURS


def _third_party(module: str) -> bool:
    return not _ours(module) and module.split(".")[0] not in sys.stdlib_module_names


@functools.cache
def _libraries_of(module: str) -> frozenset[str]:
    """Third-party modules `module` imports, and those the shared modules it loads import, transitively."""
    libs: set[str] = set()
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen or not _module_path(current).exists():
            continue
        seen.add(current)
        # the adapter's own module: every import (its functions run); the modules it imports: what loads
        for imported in _imports(_tree(current), at_import_only=current != module):
            if _third_party(imported):
                libs.add(imported)
            elif _ours(imported):
                todo.append(imported)
    return frozenset(libs)


@functools.cache
def container_properties() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Each Container property: (the shared modules it imports, the other properties it uses)."""
    cls = next(
        n for n in _tree("shared.bootstrap").body if isinstance(n, ast.ClassDef) and n.name == "Container"
    )
    props = {}
    for fn in cls.body:
        if isinstance(fn, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "cached_property" for d in fn.decorator_list
        ):
            modules = frozenset(m for m in _imports(fn) if _ours(m))
            uses = {
                n.attr
                for n in ast.walk(fn)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
            }
            props[fn.name] = (modules, frozenset(uses))
    return props


def _attributes(node: ast.AST, var: str = "c") -> set[str]:
    """Container attributes used under `node`: `c.name`, and `c.lazy("name")` (built when first called,
    which a cold request does: nothing is cached yet)."""
    found = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == var:
            found.add(n.attr)
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "lazy"
            and n.args
            and isinstance(n.args[0], ast.Constant)
        ):
            found.add(n.args[0].value)
    return found


def handler_of(entry_point: str) -> tuple[str, ast.AST] | None:
    """The module and function behind functions/<entry_point>.py's `handle` (None for a step door)."""
    for n in _tree(f"functions.{entry_point}").body:
        if isinstance(n, ast.ImportFrom) and n.module:
            for alias in n.names:
                if alias.asname == "handle":
                    fn = next(
                        f
                        for f in _tree(n.module).body
                        if isinstance(f, ast.FunctionDef) and f.name == alias.name
                    )
                    return n.module, fn
    return None


def first_request(entry_point: str) -> tuple[list[str], list[str], list[str]]:
    """(the container attributes its first request builds, our modules it imports, the libraries it needs)."""
    props = container_properties()
    if entry_point.startswith("step_"):
        wanted = RUNNER_ATTRIBUTES | _attributes(_tree(f"shared.steps.{entry_point.removeprefix('step_')}"))
        lazy: set[str] = set()
    else:
        _, fn = handler_of(entry_point) or ("", ast.Module(body=[], type_ignores=[]))
        wanted, lazy = _attributes(fn), {m for m in _imports(fn) if _ours(m)}
    used: set[str] = set()
    todo = [a for a in wanted if a in props]
    while todo:
        attr = todo.pop()
        if attr not in used:
            used.add(attr)
            todo += [u for u in props[attr][1] if u in props]
    adapters = {m for a in used for m in props[a][0]} | lazy
    libs = {*BASE_LIBS, *STEP_LIBS.get(entry_point, ())}
    for module in adapters:
        libs |= _libraries_of(module)
    ours = ["functions.main", f"functions.{entry_point}", *sorted(adapters)]
    return sorted(used), ours, sorted(libs)


def _time_imports(libs: list[str], ours: list[str], root: Path) -> tuple[float, float]:
    code = (
        "import time, importlib\n"
        "t0 = time.perf_counter()\n"
        f"for m in {libs!r}: importlib.import_module(m)\n"
        "t1 = time.perf_counter()\n"
        f"for m in {ours!r}: importlib.import_module(m)\n"
        "t2 = time.perf_counter()\n"
        "print(t1 - t0, t2 - t1)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    libs_s, own_s = out.stdout.strip().splitlines()[-1].split()
    return float(libs_s) * 1000, float(own_s) * 1000


PACKAGES = ("functions", "shared", "infra")


def compiled_copy(into: Path) -> Path:
    """Our packages copied into `into` and byte-compiled there as the Cloud Functions build does (their
    own __pycache__, so the libraries keep reading theirs); the repository itself is left alone."""
    for package in PACKAGES:
        shutil.copytree(REPO / package, into / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "compileall", "-f", "-q", *PACKAGES],
        cwd=into,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return into


def measure(entry_point: str, repeat: int, root: Path) -> dict:
    used, ours, libs = first_request(entry_point)
    runs = [_time_imports(libs, ours, root) for _ in range(repeat)]
    libs_ms = statistics.median(r[0] for r in runs)
    own_ms = statistics.median(r[1] for r in runs)
    return {
        "entry_point": entry_point,
        "entry_ms": round(libs_ms + own_ms, 1),
        "libs_ms": round(libs_ms, 1),
        "own_ms": round(own_ms, 1),
        "ratio": round((libs_ms + own_ms) / libs_ms, 3),
        "adapters": used,
        "libs": libs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters per entry point")
    parser.add_argument(
        "--from-source", action="store_true", help="do not byte-compile our modules first (see above)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cold-import-") as tmp:
        root = REPO if args.from_source else compiled_copy(Path(tmp))
        rows = [measure(ep, args.repeat, root) for ep in entry_points()]
    mode = "from source" if args.from_source else "byte-compiled, as deployed"
    if args.json:
        print(json.dumps({"mode": mode, "cold_import": rows}, indent=2))
        return 0
    print(f"our modules {mode}; libraries as pip installed them (byte-compiled)")
    print(f"{'entry point':16} {'entry ms':>9} {'libs ms':>8} {'own ms':>7} {'ratio':>6}  libraries it needs")
    for r in rows:
        print(
            f"{r['entry_point']:16} {r['entry_ms']:9.1f} {r['libs_ms']:8.1f} {r['own_ms']:7.1f} "
            f"{r['ratio']:6.3f}  " + ", ".join(r["libs"])
        )
    print(f"worst ratio: {max(r['ratio'] for r in rows):.3f} (target ≤ 1.15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
