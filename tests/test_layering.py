"""The import layering of DESIGN.md: low layers never import the doors or the runners; no import cycles;
every public function, class and method documented."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import tandem

ROOT = Path(tandem.__file__).parent
LOW = ("tandem.ops", "tandem.nets", "tandem.envs", "tandem.buffers", "tandem.io")
HIGH = ("tandem.runners", "tandem.api", "tandem.cli")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    """The tandem modules ``module`` imports (relative imports resolved); lazy ones too unless top_level_only."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                pkg = module.split(".")[: len(module.split(".")) - node.level + (1 if path.name == "__init__.py" else 0)]
                base = ".".join(pkg + [node.module])
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    modules = _modules()
    return {m for m in found if m.startswith("tandem") and m in modules}


def test_low_layers_never_import_runners_api_or_cli():
    bad = []
    for name, path in _modules().items():
        if name.startswith(LOW):
            for imported in _imports(path, name, top_level_only=False):  # lazy imports count too
                if imported.startswith(HIGH):
                    bad.append(f"{name} imports {imported}")
    assert not bad, bad


def test_the_package_has_no_import_cycles():
    modules = _modules()
    graph = {m: _imports(p, m, top_level_only=True) - {m} for m, p in modules.items()}
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(m, stack):
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(n):] + [n])}")
            if n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_the_config_layer_imports_no_algorithm():
    """Field helpers and validation live at the bottom (tandem.fields): algorithm configs import them, and
    the config module imports algorithms only lazily (config_from_dict), so there is no config <-> algos cycle."""
    modules = _modules()
    assert not any(m.startswith("tandem.algos") for m in _imports(modules["tandem.fields"], "tandem.fields", False))
    assert not any(m.startswith("tandem.algos") for m in _imports(modules["tandem.config"], "tandem.config", True))
    for name, path in modules.items():
        if name.startswith("tandem.algos"):
            assert "tandem.config" not in _imports(path, name, False), name


def test_every_public_function_class_and_method_has_a_docstring():
    missing = []
    for info in pkgutil.walk_packages(tandem.__path__, "tandem."):
        if info.name == "tandem.__main__":  # runs the CLI when imported
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                if not inspect.getdoc(obj):
                    missing.append(f"{module.__name__}.{name}")
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                        continue
                    fn = member.fget if isinstance(member, property) else member
                    if not (fn.__doc__ or "").strip() and not _documented_by_protocol(obj, attr):
                        missing.append(f"{module.__name__}.{name}.{attr}")
    assert not missing, "no docstring: " + ", ".join(missing)


def _documented_by_protocol(cls, attr: str) -> bool:
    """A driver method is documented once, on the Driver protocol (runners/driver.py)."""
    from tandem.runners.driver import Driver

    return cls is not Driver and attr in vars(Driver) and bool(getattr(Driver, attr).__doc__)
