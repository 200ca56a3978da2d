"""The package layout stays true (README, "Where things live"): every import inside `enas` points down the
layers, nothing but `app/` imports Streamlit, and no two modules import each other, directly or round a circle.
The same checks run on planted files, so that each is seen to catch what it is for."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# each package of enas and the packages it may import; the core is the modules directly in enas/
MAY_IMPORT = {
    "core": set(),
    "data": {"core"},
    "quality": {"core"},
    "runs": {"core", "quality"},
    "engine": {"core", "data", "quality", "runs"},
    "scale": {"core", "data", "quality", "runs", "engine"},
    "teach": {"core", "data", "quality", "runs", "engine"},
    "cli": {"core", "data", "quality", "runs", "engine", "scale", "teach"},
    "api": {"core", "data", "quality", "runs", "engine", "scale", "teach", "cli"},
}


def package_of(module: str) -> str:
    """'enas.engine.search' -> 'engine'; 'enas.space' and 'enas' -> 'core'; 'enas.__main__' -> 'cli'."""
    parts = module.split(".")
    if parts[1:] == ["__main__"]:
        return "cli"
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else "core"


def modules(root: Path) -> dict:
    """{dotted name: path} of every module of the `enas` package under `root`."""
    out = {}
    for path in (root / "enas").rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path, name: str):
    """Every module `path` (module `name`) imports, at the top or inside a function, as absolute names."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(package[:len(package) - node.level + 1] + ([mod] if mod else []))
            yield mod
            yield from (f"{mod}.{a.name}" for a in node.names)   # `from enas.runs import store`


def wrong_imports(root: Path) -> list:
    mods = modules(root)
    return [f"{name} ({package_of(name)}) imports {target} ({package_of(target)})"
            for name, path in mods.items() for target in imports(path, name)
            if target in mods and package_of(target) not in MAY_IMPORT[package_of(name)] | {package_of(name)}]


def streamlit_users(root: Path) -> list:
    return [str(p.relative_to(root)) for d in ("enas", "benchmarks") for p in (root / d).rglob("*.py")
            if any(t.split(".")[0] == "streamlit" for t in imports(p, "x"))]


def circles(root: Path) -> list:
    mods = modules(root)
    graph = {n: {t for t in imports(p, n) if t in mods and t != n and mods[t].name != "__init__.py"}
             for n, p in mods.items()}

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            for t in graph[todo.pop()] - seen:
                if t == b:
                    return True
                seen.add(t)
                todo.append(t)
        return False
    return sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if reaches(b, a)})


def test_every_import_inside_enas_points_down():
    assert not wrong_imports(ROOT), "\n".join(wrong_imports(ROOT))


def test_only_the_app_imports_streamlit():
    assert streamlit_users(ROOT) == []


def test_no_import_circle_between_modules():
    assert circles(ROOT) == []


def test_the_checks_catch_wrong_imports_in_planted_files(tmp_path):
    def plant(path: str, text: str):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    plant("enas/space.py", "def f():\n    from enas.engine.search import Engine\n")       # core -> engine
    plant("enas/data/load.py", "from ..engine import search\n")                           # data -> engine
    plant("enas/engine/search.py", "from enas.teach import draw\n")                        # engine -> teach
    plant("enas/teach/draw.py", "import math\n")
    plant("enas/runs/live.py", "from enas.data import load\n")                               # runs -> data
    plant("enas/teach/a.py", "from enas.teach import b\n")
    plant("enas/teach/b.py", "import streamlit as st\nfrom .a import x\n")
    assert sorted(wrong_imports(tmp_path)) == [
        "enas.data.load (data) imports enas.engine.search (engine)",
        "enas.engine.search (engine) imports enas.teach.draw (teach)",
        "enas.runs.live (runs) imports enas.data.load (data)",
        "enas.space (core) imports enas.engine.search (engine)"]
    assert streamlit_users(tmp_path) == ["enas/teach/b.py"]
    assert circles(tmp_path) == [("enas.teach.a", "enas.teach.b")]


def test_a_run_made_before_the_packages_opens_replays_and_derives(tmp_path):
    """tests/data/before-the-move: a tiny run (2 epochs) written by the flat `enas/` of before the layout; its
    checkpoint, events and configuration open with today's modules, and derive continues from its checkpoint."""
    import shutil

    from enas.engine.search import Engine
    from enas.runs.live import LiveRun
    from enas.runs.replay import cuts
    from enas.runs.store import RunStore
    shutil.copytree(ROOT / "tests" / "data" / "before-the-move", tmp_path / "before-the-move")
    store = RunStore.open(tmp_path, "before-the-move")
    assert store.status() == "finished" and store.load_checkpoint()["epoch"] == 2
    live = LiveRun(store.config())
    live.replay(store)
    assert len(live.history()) > 0 and len(cuts(store.events())) == 2
    assert Engine(store.config(), store).run(("derive",)) == "finished"
    assert store.events("derive_result")
