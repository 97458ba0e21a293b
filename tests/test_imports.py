"""rnnalg's modules import one another without a cycle (function-level imports included)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict:
    """{module: set of rnnalg modules it imports}, from the source with `ast`, every import
    statement counted wherever it sits; `from p import m` names the module p.m when there is one."""
    paths = {_module_name(p): p for p in (ROOT / "rnnalg").rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: package.count(".") + 2 - node.level]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in paths and t != name}
        graph[name] = deps
    return graph


def find_cycle(graph: dict):
    """A list of modules m0 -> m1 -> ... -> m0 (m0 repeated at the end), or None."""
    state, path = {}, []  # state: 1 on the current path, 2 finished

    def visit(node):
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_among_rnnalg_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_graph_sees_relative_function_level_and_package_imports():
    graph = import_graph()
    assert "rnnalg.front.lalr" in graph["rnnalg.front.parser_errors"]  # `from .lalr import ...`
    assert "rnnalg.front.syntax" in graph["rnnalg.checking.scope"]  # `from ..front import syntax`
    assert "rnnalg.front.parser" in graph["rnnalg"]  # inside `def parse` in rnnalg/__init__.py
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
