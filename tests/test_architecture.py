"""The package's import picture: each floor imports only the floors below it, and no module
imports itself back through others. Read from the source, so a new import that runs back up
(io importing training, say) fails here before anyone has to untangle it."""

import ast
from pathlib import Path

from helpers import REPO

PACKAGE = REPO / "scripts" / "dnalm"
# Lowest first: a package may import its own modules and those of lower floors only.
FLOORS = (
    {"errors", "settings", "chunking"},
    {"io", "runtime"},
    {"tokenization"},
    {"inference"},
    {"training", "analysis"},
    {"commands"},
    {"cli", "__main__"},
)
LARGEST_MODULE_LINES = 330


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def dnalm_imports(path):
    """The dnalm modules ``path`` imports, at any depth of its code (lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dnalm"):
            for alias in node.names:  # 'from dnalm.training import presets' names a module
                submodule = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / (submodule.replace(".", "/") + ".py")).exists()
                found.add(submodule if is_module else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("dnalm"))
    return found


def floor_of(module):
    name = module.split(".")[1] if "." in module else "__init__"
    if name == "__init__":
        return -1  # the package itself: its version only
    return next(number for number, floor in enumerate(FLOORS) if name in floor)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}
IMPORTS = {module: dnalm_imports(path) for module, path in MODULES.items()}


def test_every_package_is_on_a_floor():
    packages = {module.split(".")[1] for module in MODULES if "." in module}
    assert packages == set().union(*FLOORS)


def test_no_import_runs_back_up_a_floor():
    upward = sorted(f"{module} imports {imported}" for module, imported_set in IMPORTS.items()
                    for imported in imported_set
                    if imported in MODULES and floor_of(imported) > floor_of(module))
    assert upward == []


def test_no_module_imports_itself_back():
    def reaches(start):
        seen, stack = set(), [start]
        while stack:
            for imported in IMPORTS.get(stack.pop(), ()):
                if imported not in seen:
                    seen.add(imported)
                    stack.append(imported)
        return seen

    assert sorted(module for module in MODULES if module in reaches(module)) == []


def test_modules_stay_small():
    lines = {module: len(path.read_text().splitlines()) for module, path in MODULES.items()}
    assert {m: n for m, n in lines.items() if n > LARGEST_MODULE_LINES} == {}


def test_no_two_public_names_collide():
    defined = {}
    for module, path in MODULES.items():
        for node in ast.parse(path.read_text()).body:
            names = ([node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else
                     [t.id for t in getattr(node, "targets", ()) if isinstance(t, ast.Name)])
            for name in names:
                # every command module has add_arguments and run: that is the commands' interface
                if not name.startswith("_") and name not in ("add_arguments", "run", "main"):
                    defined.setdefault(name, []).append(module)
    assert {name: where for name, where in defined.items() if len(where) > 1} == {}
