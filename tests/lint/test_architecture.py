"""The layering rules of docs/ARCHITECTURE.md, checked on the source itself.

- `core` imports only downward in workflow order (same step allowed), with no import cycles
  between modules, lazy imports included;
- no module of `core` imports another step's private names;
- `core` never imports Streamlit;
- only state.py indexes `st.session_state`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
# Workflow order: a module may import its own layer and the ones before it.
LAYERS = {
    "foundation": 0,
    "data": 1,
    "prep": 2,
    "train": 3,
    "evaluate": 4,
    "deploy": 5,
    "compliance": 6,
    "workshop": 7,
    "cli": 8,
}
FOUNDATION = {
    "core",
    "core.i18n",
    "core.export_safety",
    "core.workflow",
    "core.limits",
    "core.private_files",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def step_of(module: str) -> str:
    if module in FOUNDATION:
        return "foundation"
    if module == "core.__main__":
        return "cli"
    step = module.split(".")[1]
    assert step in LAYERS, f"{module}: core/{step}/ is not a step in LAYERS; add it in order"
    return step


def core_imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported core module, names imported from it, line) for every import, lazy ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("core")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core"):
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return found


MODULES = {module_name(p): p for p in CORE.rglob("*.py")}


def test_every_core_module_has_a_known_step():
    for module in MODULES:
        step_of(module)


def test_core_imports_only_downward_in_workflow_order():
    upward = []
    for module, path in MODULES.items():
        here = LAYERS[step_of(module)]
        for target, _, line in core_imports(path):
            if LAYERS[step_of(resolve(target))] > here:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def resolve(target: str) -> str:
    """`from core.x import y` where y is a submodule counts as importing core.x.y."""
    assert target in MODULES, f"import of a module that does not exist: {target}"
    return target


def test_no_import_cycles_in_core():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, names, _ in core_imports(path):
            for name in names:
                if f"{target}.{name}" in MODULES:
                    graph[module].add(f"{target}.{name}")
            if target != module and target not in ("core",):
                graph[module].add(target)
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_step_imports_another_steps_private_names():
    reaching = []
    for module, path in MODULES.items():
        for target, names, line in core_imports(path):
            if step_of(resolve(target)) == step_of(module):
                continue
            reaching += [
                f"{path.relative_to(ROOT)}:{line} imports {target}.{n}"
                for n in names
                if n.startswith("_")
            ]
    assert not reaching, "private names used across steps:\n" + "\n".join(reaching)


def test_core_never_imports_streamlit():
    offenders = [
        str(p.relative_to(ROOT))
        for p in CORE.rglob("*.py")
        if re.search(r"^\s*(import|from)\s+streamlit\b", p.read_text(encoding="utf-8"), re.M)
    ]
    assert not offenders


def test_only_the_state_module_indexes_session_state():
    app_files = [
        ROOT / "app.py",
        *(p for p in ROOT.glob("ui/**/*.py") if p.name != "state.py"),
        *ROOT.glob("pages/*.py"),
    ]
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in app_files
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "session_state" in line
    ]
    assert not offenders, "use state.py's accessors instead:\n" + "\n".join(offenders)
    assert "st.session_state" in (ROOT / "ui" / "state.py").read_text(encoding="utf-8")
