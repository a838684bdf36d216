"""The package's import direction, read from the sources (ast, nothing imported).

Bottom to top: the foundation (checks, random numbers, parameter counts, compilation,
statistics, provenance, results files, run folders, the seed axis) < groups < layers < envs <
networks < models (and the zoo, and PRAE's learned homomorphisms) < agents (PPO < Dyna < AC) <
runner < sweeps < experiments. A module may import its own layer and the
layers below it, never one above, and no two modules import each other, directly or through
others. Launchers sit above everything and are not part of the package.
"""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tf_equirl")

# Bottom to top; a module belongs to the layer of the longest prefix that names it.
LAYERS = (
  (
    "foundation",
    (
      "tf_equirl.checks",
      "tf_equirl.rng",
      "tf_equirl.params",
      "tf_equirl.compilation",
      "tf_equirl.stats",
      "tf_equirl.provenance",
      "tf_equirl.results",
      "tf_equirl.runs",
      "tf_equirl.seed_axis",
      "tf_equirl.lanes",
    ),
  ),
  ("groups", ("tf_equirl.groups", "tf_equirl.testing")),
  ("layers", ("tf_equirl.layers",)),
  ("envs", ("tf_equirl.envs", "tf_equirl.evaluation")),
  ("networks", ("tf_equirl.networks",)),
  ("models", ("tf_equirl.models", "tf_equirl.zoo", "tf_equirl.prae")),
  ("agents.ppo", ("tf_equirl.agents", "tf_equirl.agents.ppo")),
  ("agents.dyna", ("tf_equirl.agents.dyna",)),
  ("agents.ac", ("tf_equirl.agents.ac",)),
  ("runner", ("tf_equirl.runner",)),
  ("sweeps", ("tf_equirl.sweeps",)),
  ("experiments", ("tf_equirl.experiments",)),
)
RANK = {prefix: rank for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes}
NAMES = [name for name, _ in LAYERS]


def _modules():
  """`{module name: path}` of every module of the package but its root `__init__` (which only
  re-exports and loads subpackages lazily)."""
  out = {}
  for folder, _, files in os.walk(ROOT):
    for file in files:
      if not file.endswith(".py"):
        continue
      path = os.path.join(folder, file)
      parts = os.path.relpath(path, os.path.dirname(ROOT))[:-3].split(os.sep)
      if parts[-1] == "__init__":
        parts = parts[:-1]
      if parts != ["tf_equirl"]:
        out[".".join(parts)] = path
  return out


MODULES = _modules()


def _imports(module, path):
  """The package's modules that `module` imports anywhere in its file (functions included),
  with the line of each import."""
  is_package = path.endswith("__init__.py")
  package = module if is_package else module.rpartition(".")[0]
  found = []
  for node in ast.walk(ast.parse(open(path).read(), path)):
    if isinstance(node, ast.Import):
      targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
      targets = [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
        for alias in node.names
      ]
    else:
      continue
    for target in targets:
      while target and target not in MODULES and target != "tf_equirl":
        target = target.rpartition(".")[0]  # `import tf_equirl.envs.base.X` -> its module
      if target in MODULES and target != module:
        found.append((target, node.lineno))
  return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _layer(module):
  prefix = max(
    (p for p in RANK if module == p or module.startswith(p + ".")), key=len, default=None
  )
  return None if prefix is None else RANK[prefix]


def test_every_module_has_a_layer():
  assert len(MODULES) > 50  # the walk found the package
  missing = sorted(m for m in MODULES if _layer(m) is None)
  assert not missing, f"modules without a layer (add them to LAYERS): {missing}"


def test_no_module_imports_a_higher_layer():
  upward = [
    f"{m} ({NAMES[_layer(m)]}) imports {t} ({NAMES[_layer(t)]}) on line {line}"
    for m, targets in GRAPH.items()
    for t, line in targets
    if None not in (_layer(t), _layer(m)) and _layer(t) > _layer(m)
  ]
  assert not upward, "\n".join(upward)


def _cycles():
  """The strongly connected components of more than one module (Tarjan's algorithm)."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w, _ in GRAPH[v]:
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        found.append(sorted(component))

  for module in sorted(GRAPH):
    if module not in index:
      visit(module)
  return found


def test_no_import_cycles():
  assert not _cycles(), _cycles()


@pytest.mark.parametrize(
  "module,forbidden",
  [
    ("tf_equirl.runner", ("tf_equirl.sweeps", "tf_equirl.experiments")),
    ("tf_equirl.envs.defaults", ("tf_equirl.",)),
    ("tf_equirl.envs.breaking", ("tf_equirl.envs.cartpole", "tf_equirl.envs.catch")),
  ],
)
def test_named_boundaries(module, forbidden):
  """The runner imports neither sweeps nor studies; the per-environment table imports nothing
  of the library; the symmetry-breaking variants import neither environment (both import
  them)."""
  bad = [t for t, _ in GRAPH[module] if any(t.startswith(f) for f in forbidden)]
  assert not bad, f"{module} imports {bad}"


def test_the_checker_sees_a_violation(tmp_path):
  """A cycle and an upward import are found in a graph that has them."""
  saved = dict(GRAPH)
  try:
    GRAPH["tf_equirl.groups.symmetry"] = saved["tf_equirl.groups.symmetry"] + [
      ("tf_equirl.runner", 1)
    ]
    GRAPH["tf_equirl.runner"] = saved["tf_equirl.runner"] + [("tf_equirl.groups.symmetry", 1)]
    with pytest.raises(AssertionError, match="imports tf_equirl.runner"):
      test_no_module_imports_a_higher_layer()
    assert any("tf_equirl.runner" in c for c in _cycles())
  finally:
    GRAPH.clear()
    GRAPH.update(saved)
