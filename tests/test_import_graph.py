"""The import graph: floors only import downwards, and no module imports itself back.

Read statically from every module's source (``ast``), so the test sees the imports a handler
makes lazily too: an arrow back up is wrong even inside a function.  Floors, lowest first:

* ``search_space``: what a candidate is (torch only where a module builds one);
* ``trials``: ``trials.checked`` (how a config section checks itself), then its subpackages, each
  above the ones before it: ``record`` (the names under
  which trials live in the storage, the objective table, opening storages, versions) <
  ``data`` (data sets) < ``config`` (the search config, presets, constraints, samplers) <
  ``training`` (the loop, replicates, export; never Ray) < ``running`` (the Optuna study,
  the searcher, the Ray worker, MOASHA) < ``trials.presets`` (the papers' ablations, light: the CLI's
  parser lists them) < ``trials.commands``;
* ``analysis``: reads a study back; never Ray, and of ``trials`` only the record and the one
  dominance rule (``trials.running.moasha``'s Ray-free sorting) and the until-clear record's reading
  (``trials.running.until_clear``'s Ray-free ``seeds_at``);
* ``fusionscope``: the CLI, the top floor.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("search_space", "trials", "analysis", "fusionscope")
FLOORS = ("search_space", "trials.checked", "trials.record", "trials.data", "trials.config", "trials.training", "trials.running",
          "trials.presets", "trials.commands", "trials", "analysis", "fusionscope")
ANALYSIS_MAY_IMPORT = ("trials.record", "trials.running.moasha", "trials.running.until_clear")
NEVER_RAY = ("search_space", "trials.record", "trials.data", "trials.config", "trials.training", "analysis")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """(imported module, at module level) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks are module level too
        if isinstance(node, ast.If):
            top |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: len(module.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join(package + ([base] if base else []))
            found.append((base, id(node) in top))
            found += [(f"{base}.{alias.name}", id(node) in top) for alias in node.names]
    return found


def floor(name: str) -> int:
    best = max((f for f in FLOORS if name == f or name.startswith(f + ".")), key=len)
    return FLOORS.index(best)


def project_edges() -> dict[str, list[tuple[str, bool]]]:
    mods = modules()
    edges = {}
    for name, path in mods.items():
        # a package's root (``from trials import record``) is not a dependency on the package's top
        edges[name] = [(target, top) for target, top in imports(path, name)
                       if target in mods and target != name and target not in PACKAGES]
    return edges


def test_every_import_goes_down_or_sideways_never_up():
    wrong = []
    for source, targets in project_edges().items():
        for target, _ in targets:
            if floor(target) > floor(source) and not source.startswith("fusionscope"):
                wrong.append(f"{source} -> {target}")
            if source.startswith("analysis") and target.startswith("trials") and target != "trials" \
                    and not target.startswith(ANALYSIS_MAY_IMPORT):
                wrong.append(f"{source} -> {target} (analysis reads only the record)")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_no_import_cycle_among_module_level_imports():
    edges = {s: {t for t, top in ts if top} for s, ts in project_edges().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]) if nxt in stack else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_ray_stays_out_of_the_lower_floors_and_the_analysis():
    wrong = []
    for name, path in modules().items():
        if name.startswith(NEVER_RAY) and any(t == "ray" or t.startswith("ray.") for t, _ in imports(path, name)):
            wrong.append(name)
    assert not wrong, wrong
