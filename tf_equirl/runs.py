"""Run folders that never mix runs, lose finished work or summarise a diverged run.

A run folder (`launchers.train_ppo --out`, `train_dyna --out`, each arm of a reproduction) is
described by `run.json`, written before any training starts:

* `config_hash`: a hash of the whole config. A folder holding another configuration's run is
  refused (`RunFolderError`) unless the caller asks to `overwrite` it.
* per seed, once it has finished: `fingerprint`, a hash of the config, the seed, the code
  version (`code_version(config)`: a hash of the library's sources, or for an actor-critic
  config of the sources its training imports) and XLA's CPU runtime. A finished seed is
  reused on `resume` only if its fingerprint matches, so results made by other code or
  another configuration are trained again, never mixed in.
* `status`: "running", "finished" or "failed". A run whose training diverged
  (`TrainingDiverged`: a non-finite loss, metric or parameter) is marked failed with the seed,
  the iteration and the message; its partial rows go to `seed_<k>.failed.csv`, and no summary is
  written.

While a seed trains, `TrainingCheckpoint` saves its whole state between compiled calls every
`checkpoint_every` iterations (a `tf.train.Checkpoint` of the parameters, the optimiser, the
environments and the random-number state, with the metrics so far beside it), so an
interrupted run (SIGINT, SIGKILL, a lost machine) continues on `resume` from its last
checkpoint and writes the same CSV as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import results

__all__ = [
  "RunFolder",
  "RunFolderError",
  "TrainingDiverged",
  "TrainingCheckpoint",
  "code_version",
  "training_roots",
  "import_closure",
  "module_imports",
  "config_hash",
  "seed_fingerprint",
  "check_finite",
  "is_finished_run",
  "load_finished_run",
  "holds_run_record",
  "copy_records",
]

RUN_FILE = "run.json"
FAILED_FILE = "failed.json"
_CKPT_STATE = "state.json"
# What a run folder of this library holds; --overwrite removes a folder only if it looks so.
_RUN_MARKERS = (RUN_FILE, "summary.json", "seed_*.csv")


class RunFolderError(ValueError):
  """An output folder that cannot take this run (a file, not writable, another run)."""


class TrainingDiverged(RuntimeError):
  """Training produced a non-finite loss, metric or parameter.

  Attributes: `seed`, `iteration` (1-based, the first iteration with a non-finite value),
  `env_steps` (the steps done by then), `names` (what was non-finite) and `columns` (the
  per-iteration columns of the run so far, set by the learner that caught it; None until
  then)."""

  def __init__(self, seed: int, iteration: int, env_steps: int, names: Sequence[str]):
    self.seed, self.iteration, self.env_steps = int(seed), int(iteration), int(env_steps)
    self.names = tuple(names)
    self.columns: Optional[Dict[str, np.ndarray]] = None
    super().__init__(
      f"training diverged: seed {self.seed}, iteration {self.iteration} "
      f"({self.env_steps:,} env steps): non-finite {', '.join(self.names)}. "
      "Its partial results are marked as failed; lower the learning rate or "
      "check the environment's observations and rewards."
    )


def check_finite(
  metrics: Dict[str, np.ndarray],
  variables,
  seed: int,
  first_iteration: int,
  batch_size: int,
  allow_nan: Sequence[str] = (),
) -> None:
  """Raises `TrainingDiverged` if any per-iteration metric (but those in `allow_nan`, which
  are NaN by definition, e.g. the mean return of an iteration where no episode finished) or
  any variable is non-finite. `first_iteration` is the 0-based index of the metrics' first
  row in the run."""
  rows: Optional[int] = None
  names = []
  for name, values in metrics.items():
    if name in allow_nan:
      continue
    bad = ~np.isfinite(np.asarray(values, np.float64))
    if bad.any():
      at = int(np.argmax(bad))
      names.append(name)
      rows = at if rows is None else min(rows, at)
  bad_vars = [v.name for v in variables if not np.all(np.isfinite(v.numpy()))]
  if bad_vars:
    names.append(
      "parameters (" + ", ".join(bad_vars[:3]) + ("..." if len(bad_vars) > 3 else "") + ")"
    )
    last = len(next(iter(metrics.values()))) - 1 if metrics else 0
    rows = last if rows is None else rows
  if names and rows is not None:
    iteration = first_iteration + rows + 1
    raise TrainingDiverged(seed, iteration, iteration * batch_size, names)


# Library files that only declare studies (their configs, which every fingerprint hashes) and
# write their reports: nothing that trains imports them (tests/test_runs.py), so editing them
# (a study's budget, a report's wording) keeps every finished run.
NOT_TRAINING = ("experiments/registry.py",)

# Packages whose config dataclasses are trained by their own modules alone: a run of such a
# config depends only on the library modules the package imports, directly or through others
# (`import_closure`), and its code version hashes those (`code_version(config)`), so editing
# another agent, the studies or the sweeps keeps its finished runs. A config whose training
# needs fewer of the package's modules names them with a `training_modules()` method (an
# actor-critic on states leaves out the pixel agent, `ACConfig.training_modules`). Every other
# config's code version is the whole library's.
SELF_CONTAINED = ("tf_equirl.agents.ac",)

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE = "tf_equirl"


def sources_hash(root: str, skip: Sequence[str] = NOT_TRAINING) -> str:
  """A hash of the Python sources under `root` (paths and contents), leaving out the files of
  `skip` (paths relative to `root`, with "/")."""
  digest = hashlib.sha256()
  for path in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
    relative = os.path.relpath(path, root)
    if relative.replace(os.sep, "/") in skip:
      continue
    digest.update(relative.encode())
    with open(path, "rb") as f:
      digest.update(f.read())
  return digest.hexdigest()[:16]


def module_file(name: str, root: str = _PACKAGE_DIR) -> Optional[str]:
  """The source file of the library module or package `name` ("tf_equirl.envs.pendulum")
  under the package folder `root`, or None when there is none."""
  parts = name.split(".")
  if parts[0] != _PACKAGE:
    return None
  base = os.path.join(root, *parts[1:])
  for path in (os.path.join(base, "__init__.py"), base + ".py"):
    if os.path.isfile(path):
      return path
  return None


def module_imports(name: str, root: str = _PACKAGE_DIR) -> Tuple[str, ...]:
  """The library modules that module `name` imports: every `import` and `from ... import`
  statement, at the top or inside a function, relative ones resolved; a name imported from a
  package counts as its submodule where one exists, else as the package."""
  import ast  # pylint: disable=import-outside-toplevel

  path = module_file(name, root)
  if path is None:
    raise ValueError(f"{name!r} is not a module of {_PACKAGE} under {root}.")
  package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
  named = set()
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), filename=path)
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      named |= {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom):
      parts = package.split(".")
      base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
      base = ".".join(p for p in (base, node.module or "") if p)
      named.add(base)
      named |= {f"{base}.{alias.name}" for alias in node.names}
  found = set()
  for target in named:
    while target and module_file(target, root) is None:  # a name defined in a module
      target = target.rpartition(".")[0]
    if target:
      found.add(target)
  return tuple(sorted(found))


def import_closure(roots: Sequence[str], root: str = _PACKAGE_DIR) -> Tuple[str, ...]:
  """The library modules that importing `roots` (modules or packages; a package stands for
  every module in it) runs or may run: their imports (`module_imports`), the imports of
  those, and so on, with the packages above each module (their `__init__` runs first).
  Imports made by name at run time are not seen; the library makes them only to load a
  part on first use: in the lazy `__getattr__` of `tf_equirl`, `tf_equirl.experiments`,
  `tf_equirl.envs`, `tf_equirl.networks` and `tf_equirl.agents.ac`, and where a pixel
  environment or agent is built (`tf_equirl.envs.make`, `tf_equirl.agents.ac.make_agent`).
  tests/test_runs.py checks that training an actor-critic, on states or pictures, loads
  nothing outside its closure."""
  todo: List[str] = []
  for name in roots:
    path = module_file(name, root)
    if path is None:
      raise ValueError(f"{name!r} is not a module of {_PACKAGE} under {root}.")
    todo.append(name)
    if path.endswith("__init__.py"):  # every module below it, subpackages at any depth
      top = os.path.dirname(path)
      for folder, subfolders, files in os.walk(top):
        subfolders[:] = sorted(
          d for d in subfolders if os.path.isfile(os.path.join(folder, d, "__init__.py"))
        )
        rel = os.path.relpath(folder, top)
        prefix = name if rel == "." else ".".join([name, *rel.split(os.sep)])
        todo.append(prefix)
        todo += [
          f"{prefix}.{f[: -len('.py')]}"
          for f in sorted(files)
          if f.endswith(".py") and f != "__init__.py"
        ]
  seen: set = set()
  while todo:
    name = todo.pop()
    if name in seen:
      continue
    seen.add(name)
    parts = name.split(".")
    todo += [".".join(parts[:i]) for i in range(1, len(parts))]
    todo += [m for m in module_imports(name, root) if m not in seen]
  return tuple(sorted(seen))


def modules_hash(modules: Sequence[str], root: str = _PACKAGE_DIR) -> str:
  """A hash of the source files of `modules` (names and contents)."""
  digest = hashlib.sha256()
  for name in sorted(set(modules)):
    path = module_file(name, root)
    if path is None:
      raise ValueError(f"{name!r} is not a module of {_PACKAGE} under {root}.")
    digest.update(os.path.relpath(path, root).replace(os.sep, "/").encode())
    with open(path, "rb") as f:
      digest.update(f.read())
  return digest.hexdigest()[:16]


def training_package(config: Any) -> Optional[str]:
  """The package of `SELF_CONTAINED` that defines `config`'s class, or None."""
  module = type(config).__module__
  return next((p for p in SELF_CONTAINED if module == p or module.startswith(p + ".")), None)


def training_roots(config: Any) -> Optional[Tuple[str, ...]]:
  """The library modules whose import closure trains `config`: those its `training_modules()`
  names, else its `SELF_CONTAINED` package (which stands for every module in it); None for a
  config of no such package (its training may use any of the library).

  Raises:
    ValueError: `training_modules()` names a module outside the config's package.
  """
  package = training_package(config)
  if package is None:
    return None
  named = getattr(config, "training_modules", None)
  if named is None:
    return (package,)
  roots = tuple(sorted(set(named())))
  outside = [m for m in roots if m != package and not m.startswith(package + ".")]
  if not roots or outside:
    raise ValueError(
      f"{type(config).__name__}.training_modules() must name modules of {package}, "
      f"received {list(roots)}."
    )
  return roots


@functools.lru_cache(maxsize=None)
def _version_of(roots: Optional[Tuple[str, ...]]) -> str:
  if roots is None:
    return sources_hash(_PACKAGE_DIR)
  return modules_hash(import_closure(roots))


def code_version(config: Any = None) -> str:
  """The version of the code that trains `config`: for a config of a `SELF_CONTAINED`
  package, a hash of the sources of the import closure of its `training_roots`; for any
  other config (or None), a hash of the library's sources but the study declarations
  (`NOT_TRAINING`). It changes whenever that code does (computed once per process)."""
  return _version_of(None if config is None else training_roots(config))


def _config_dict(config) -> Dict[str, Any]:
  return json.loads(json.dumps(dataclasses.asdict(config), sort_keys=True, default=str))


def config_hash(config: Any) -> str:
  """A hash of every field of a config dataclass (nested configs included)."""
  text = json.dumps({"type": type(config).__name__, "config": _config_dict(config)}, sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def seed_fingerprint(
  config: Any, seed: int, version: Optional[str] = None, with_runtime: bool = True
) -> str:
  """A hash of the config, the seed, the code version and (`with_runtime`) XLA's CPU runtime
  of this process (the two runtimes round differently, `tf_equirl.compilation`): what a
  finished seed must match to be reused. A sweep leaves the runtime out: its spec fixes it,
  and a trial's fallback to the classic runtime is part of the sweep."""
  from tf_equirl import compilation  # pylint: disable=import-outside-toplevel

  runtime = (
    "any" if not with_runtime else "xla_runtime" if compilation.runtime_enabled() else "classic"
  )
  text = f"{config_hash(config)}/{int(seed)}/{version or code_version(config)}/{runtime}"
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_json(path: str, data) -> None:
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(data, f, indent=1)
  os.replace(tmp, path)


def _looks_like_run(path: str) -> bool:
  return any(glob.glob(os.path.join(path, pattern)) for pattern in _RUN_MARKERS)


def holds_run_record(path: str) -> bool:
  """Whether the folder `path` has a `run.json` (a run of this library that can resume)."""
  return os.path.exists(os.path.join(path, RUN_FILE))


class RunFolder:
  """The output folder of one run (one config, some seeds); see the module docstring.

  `RunFolder(out, config, seeds, resume=False, overwrite=False)` checks the folder before any
  work: it must be a writable folder (created if missing) that is empty, holds this
  configuration's run (`resume=True`), or is to be replaced (`overwrite=True`, only for a
  folder that holds a run of this library). Raises `RunFolderError` otherwise. Nothing is
  written or removed until `start()`.
  """

  def __init__(
    self, out: str, config: Any, seeds: Sequence[int], resume: bool = False, overwrite: bool = False
  ):
    self.out, self.config, self.seeds = out, config, [int(s) for s in seeds]
    self.version = code_version(config)
    self.config_hash = config_hash(config)
    if os.path.exists(out) and not os.path.isdir(out):
      raise RunFolderError(f"--out {out!r} is a file; expected a folder (new or holding a run).")
    existing = os.path.isdir(out) and bool(os.listdir(out))
    record = self._read() if existing else None
    self._replace = False
    if existing and overwrite:
      if not _looks_like_run(out):
        raise RunFolderError(
          f"--out {out!r} holds files that are not a tf_equirl run; "
          "refusing to overwrite it. Choose another folder."
        )
      self._replace, record = True, None
    elif existing and not resume:
      what = (
        f"a run of another configuration (config hash {record.get('config_hash')})"
        if record and record.get("config_hash") != self.config_hash
        else "a run"
        if record or _looks_like_run(out)
        else "other files"
      )
      raise RunFolderError(
        f"--out {out!r} already holds {what}. Pass --resume to continue "
        "the same configuration's run, --overwrite to replace it, or "
        "choose another folder."
      )
    elif existing and resume:
      if record is None:
        raise RunFolderError(
          f"--out {out!r} is not empty but holds no {RUN_FILE}: nothing to "
          "resume. Pass --overwrite to replace it or choose another folder."
        )
      if record.get("config_hash") != self.config_hash:
        raise RunFolderError(
          f"--out {out!r} holds a run of another configuration (config hash "
          f"{record.get('config_hash')}, this one {self.config_hash}); "
          "--resume continues only the same configuration. Pass "
          "--overwrite to replace it or choose another folder."
        )
    try:  # writable? (an empty folder is the only trace a failed check leaves)
      os.makedirs(out, exist_ok=True)
      tempfile.TemporaryFile(dir=out).close()
    except OSError as e:
      raise RunFolderError(
        f"--out {out!r} is not writable ({e.strerror}); expected a folder "
        "this process can write."
      ) from e
    self.record = record or {
      "config_hash": self.config_hash,
      "config": _config_dict(config),
      "seeds": {},
    }

  def start(self) -> "RunFolder":
    """Takes the folder for this run (replacing the old run with `overwrite`) and writes
    `run.json`; call it once the run's config has been checked, before training."""
    if self._replace:
      shutil.rmtree(self.out)
      os.makedirs(self.out)
      self._replace = False
    from tf_equirl import compilation  # pylint: disable=import-outside-toplevel

    self.record.update(
      status="running",
      code_version=self.version,
      requested_seeds=self.seeds,
      started=time.time(),
      xla_cpu_runtime="xla_runtime" if compilation.runtime_enabled() else "classic",
    )
    self.record.pop("error", None)
    self._write()
    failed = os.path.join(self.out, FAILED_FILE)
    if os.path.exists(failed):
      os.remove(failed)
    return self

  # ------------------------------------------------------------------- record
  def _read(self) -> Optional[dict]:
    path = os.path.join(self.out, RUN_FILE)
    if not os.path.exists(path):
      return None
    try:
      with open(path) as f:
        return json.load(f)
    except (OSError, ValueError) as e:
      raise RunFolderError(
        f"{path} is unreadable or corrupt ({e}); pass --overwrite to "
        "replace the run or choose another folder."
      ) from e

  def _write(self) -> None:
    _atomic_json(os.path.join(self.out, RUN_FILE), self.record)

  def fingerprint(self, seed: int) -> str:
    return seed_fingerprint(self.config, seed, self.version)

  def seed_csv(self, seed: int) -> str:
    return os.path.join(self.out, f"seed_{int(seed)}.csv")

  def is_finished(self, seed: int) -> bool:
    """Whether `seed` finished in this folder with this config and this code."""
    entry = self.record["seeds"].get(str(int(seed)))
    return bool(
      entry
      and entry.get("status") == "finished"
      and entry.get("fingerprint") == self.fingerprint(seed)
      and os.path.exists(self.seed_csv(seed))
    )

  def stale_seeds(self) -> List[int]:
    """Seeds recorded as finished whose fingerprint does not match (other code or config)."""
    return sorted(
      int(s)
      for s, e in self.record["seeds"].items()
      if e.get("status") == "finished" and int(s) in self.seeds and not self.is_finished(int(s))
    )

  def finish_seed(self, seed: int) -> None:
    self.record["seeds"][str(int(seed))] = {
      "status": "finished",
      "fingerprint": self.fingerprint(seed),
      "finished": time.time(),
    }
    self._write()
    shutil.rmtree(self.checkpoint_dir(seed), ignore_errors=True)

  def fail(
    self,
    error: BaseException,
    seed: Optional[int] = None,
    columns: Optional[Dict[str, np.ndarray]] = None,
  ) -> None:
    """Marks the run failed (and `seed`'s partial `columns`, if given, as
    `seed_<k>.failed.csv`); removes any summary so nothing reads it as a result."""
    if seed is not None and columns:
      results.write_seed_csv(os.path.join(self.out, f"seed_{int(seed)}.failed.csv"), columns)
    info: Dict[str, Any] = {"status": "failed", "error": str(error), "type": type(error).__name__}
    if isinstance(error, TrainingDiverged):
      info.update(
        seed=error.seed,
        iteration=error.iteration,
        env_steps=error.env_steps,
        names=list(error.names),
      )
    self.record.update(status="failed", error=info)
    self._write()
    _atomic_json(os.path.join(self.out, FAILED_FILE), info)
    for name in ("summary.json", "summary.md", "curves.png"):
      path = os.path.join(self.out, name)
      if os.path.exists(path):
        os.remove(path)

  def finish(self) -> None:
    self.record.update(status="finished", finished=time.time())
    self._write()

  # -------------------------------------------------------------- checkpoints
  def checkpoint_dir(self, seed: int) -> str:
    return os.path.join(self.out, "checkpoints", f"seed_{int(seed)}")

  def checkpoint(self, seed: int, every: int) -> Optional["TrainingCheckpoint"]:
    """The checkpoint of `seed` (None if `every` is 0: no checkpoints)."""
    if not every:
      return None
    return TrainingCheckpoint(self.checkpoint_dir(seed), self.fingerprint(seed), every)


def is_finished_run(out: str, config: Any, seeds: Sequence[int]) -> bool:
  """Whether `out` holds a finished run of `config` in which every seed of `seeds` finished
  with this code (fingerprints in `run.json`, each seed's CSV and the summary present)."""
  path = os.path.join(out, RUN_FILE)
  if not (os.path.exists(path) and os.path.exists(os.path.join(out, "summary.json"))):
    return False
  try:
    with open(path) as f:
      record = json.load(f)
  except (OSError, ValueError):
    return False
  if record.get("status") != "finished" or record.get("config_hash") != config_hash(config):
    return False
  version = code_version(config)
  for seed in seeds:
    entry = record.get("seeds", {}).get(str(int(seed)), {})
    if entry.get("fingerprint") != seed_fingerprint(config, seed, version) or not os.path.exists(
      os.path.join(out, f"seed_{int(seed)}.csv")
    ):
      return False
  return True


def load_finished_run(out: str, config: Any, seeds: Sequence[int]):
  """`(env_steps, curves, parameter_counts)` of a finished run of the same config and seeds
  in `out`, else None: lets a long reproduction resume without training a finished
  configuration again. Finished means that `run.json` records every seed as finished with
  the fingerprint of this config, seed and code version, and its CSV and the run's
  summary.json exist."""
  if not is_finished_run(out, config, seeds):
    return None
  with open(os.path.join(out, "summary.json")) as f:
    summary = json.load(f)
  columns = [results.read_seed_csv(os.path.join(out, f"seed_{s}.csv")) for s in seeds]
  curves = np.stack([c["mean_return"] for c in columns])
  return columns[0]["env_steps"], curves, summary["parameter_counts"]


class TrainingCheckpoint:
  """A seed's training state between compiled calls, saved every `every` iterations.

  The learner hands `save` its variables (parameters, optimiser slots and step counts, buffers),
  its carries (environment states, observations, random keys: nested tensors) and its progress
  (the per-iteration metrics so far: numpy arrays). `restore` puts them back into the same
  structures of a freshly reset learner. A save writes a new `tf.train.Checkpoint` and then
  replaces `state.json` atomically, so a process killed at any moment leaves the last
  complete checkpoint; a checkpoint of other code or another configuration (its fingerprint)
  is ignored.
  """

  def __init__(self, directory: str, fingerprint: str, every: int):
    if every < 1:
      raise ValueError(
        f"TrainingCheckpoint: every must be a positive number of iterations, " f"received {every}."
      )
    self.directory, self.fingerprint, self.every = directory, fingerprint, int(every)

  def due(self, iterations_done: int, last_saved: int) -> bool:
    return iterations_done - last_saved >= self.every

  def save(
    self, iterations_done: int, variables, carries: Dict[str, Any], progress: Dict[str, np.ndarray]
  ) -> None:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    os.makedirs(self.directory, exist_ok=True)
    name = f"ckpt-{iterations_done}"
    prefix = os.path.join(self.directory, name)
    flat = tf.nest.flatten(carries)
    tf.train.Checkpoint(
      variables=list(variables), carries=[tf.Variable(t, trainable=False) for t in flat]
    ).write(prefix)
    np.savez(prefix + ".progress.npz", **progress)
    state_path = os.path.join(self.directory, _CKPT_STATE)
    previous = self._state()
    _atomic_json(
      state_path, {"fingerprint": self.fingerprint, "iterations": iterations_done, "prefix": name}
    )
    if previous and previous.get("prefix") != name:
      for path in glob.glob(os.path.join(self.directory, previous["prefix"] + ".*")):
        os.remove(path)

  def _state(self) -> Optional[dict]:
    path = os.path.join(self.directory, _CKPT_STATE)
    try:
      with open(path) as f:
        return json.load(f)
    except (OSError, ValueError):
      return None

  def restore(self, variables, carries: Dict[str, Any]):
    """`(iterations_done, carries, progress)` from the last checkpoint of this fingerprint,
    with `variables` assigned in place; None if there is none."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    state = self._state()
    if not state or state.get("fingerprint") != self.fingerprint:
      return None
    prefix = os.path.join(self.directory, state["prefix"])
    flat = tf.nest.flatten(carries)
    holders = [tf.Variable(t, trainable=False) for t in flat]
    tf.train.Checkpoint(variables=list(variables), carries=holders).read(prefix).assert_consumed()
    with np.load(prefix + ".progress.npz") as data:
      progress = {k: data[k] for k in data.files}
    restored = tf.nest.pack_sequence_as(carries, [h.read_value() for h in holders])
    return int(state["iterations"]), restored, progress


# What `copy_records` copies: the small files a run is recorded and reported by.
RECORD_SUFFIXES = (".json", ".csv")


def copy_records(source: str, destination: str) -> List[str]:
  """Copies the run records below `source` into `destination` (same relative paths) and
  returns the paths copied, relative to `source`.

  The records are every `.json` and `.csv` file (`run.json`, per-seed CSVs and summaries,
  a study's per-seed rows and measurements, `invocations.json`) outside `checkpoints/`
  folders; models, datasets, figures and checkpoints stay behind. For a study whose report
  needs its records only (`tf_equirl.experiments.registry.Study.records`), the copy lets it
  resume on another machine without training its finished seeds again: their fingerprints
  (config, seed, code version, XLA runtime) travel in the records, so only a checkout of the
  same code reuses them. A seed that was training when the records were taken starts again.

  Raises:
    FileNotFoundError: `source` is not a folder.
    RunFolderError: `destination` is a file.
  """
  if not os.path.isdir(source):
    raise FileNotFoundError(f"copy_records: {source!r} is not a folder of runs.")
  if os.path.exists(destination) and not os.path.isdir(destination):
    raise RunFolderError(f"copy_records: {destination!r} is a file; expected a folder.")
  copied = []
  for root, folders, files in os.walk(source):
    folders[:] = sorted(f for f in folders if f != "checkpoints")
    for name in sorted(files):
      if not name.endswith(RECORD_SUFFIXES) or ".tmp" in name:
        continue
      relative = os.path.relpath(os.path.join(root, name), source)
      target = os.path.join(destination, relative)
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.copyfile(os.path.join(root, name), target)
      copied.append(relative)
  return copied
