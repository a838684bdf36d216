"""Running a sweep on Ray Tune: trials, the run store that makes them idempotent, aggregation.

A sweep is an algorithm (`registry`), a base config, a search space over its fields (`space`)
and seeds. Its trials are the grid points (times `num_samples` draws of any samplers) times
the seed groups (`seeds_per_trial`, default all seeds in one trial). One trial is one Ray
worker process that:

0. sets the sweep's XLA runtime (`xla_runtime`, by default its algorithm launcher's) before
   TensorFlow runs anything in the process, since XLA reads it once per process;
1. builds the configuration and opens its run folder `<out>/runs/<label>-<hash>/`;
2. skips every seed whose results are already there (finished by an earlier attempt, a
   crashed worker or an interrupted sweep) and reports their last row to Tune;
3. trains the other seeds one after another with the algorithm's `run_seeds`, in one learner
   so they reuse one compiled graph, reporting every compiled call's last row to Tune (every
   row with `report_every_iteration=True`: a report costs about 3 ms, more than a
   CartPole iteration);
4. writes each finished seed at once, atomically: `seed_<k>.npz` (exact values) and
   `seed_<k>.csv` (the launchers' CSV), and appends what it did to `log.jsonl` (start and
   finish of each seed with host, pid, Ray node id and time);
5. if the newer XLA runtime cannot compile the configuration, trains the unfinished seeds
   with the classic runtime in a child process (`_classic`), as the launchers restart.

Tune retries a crashed trial (`max_failures`) and `resume=True` restores an interrupted
sweep (`Tuner.restore`); because of step 2 neither retrains a finished seed, even where Tune's
own experiment state lags behind. Before any of this the driver checks everything it can
(the space, each grid point's configuration with `Algorithm.check_config`, seeds, `out`), so a
bad value fails at once rather than in every trial. After the trials the driver reads the run
folders and writes `summary.json`, `summary.md`, `curves.png` and, for two grid fields,
`heatmap.png` and `matrix.png` (thesis Fig. 4.11) through `tf_equirl.results`, and raises `SweepIncomplete` if
seeds are missing (failed trials, or a SIGINT that stopped Tune).

On a cluster `out` must be a folder every node sees (a shared file system), as Ray Tune's
`storage_path` must be.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from tf_equirl import compilation, results, runs
from tf_equirl.sweeps import space as space_lib
from tf_equirl.agents.ppo import PPOConfig
from tf_equirl.runner import vectorizes
from tf_equirl.sweeps.registry import get_algorithm

__all__ = [
  "run_sweep",
  "resume_sweep",
  "aggregate",
  "SweepResult",
  "ConfigResult",
  "RunStore",
  "SweepIncomplete",
  "connect",
  "seed_groups",
  "default_xla_runtime",
]

SPEC_FILE = "sweep.json"
TUNE_DIR = "tune"


# --------------------------------------------------------------------------- results
@dataclasses.dataclass
class ConfigResult:
  """All seeds of one configuration of a sweep."""

  label: str
  values: Dict[str, Any]  # the searched fields' values
  config: Dict[str, Any]  # the whole config as a dict
  directory: str
  seeds: List[int]  # seeds whose results exist (in the sweep's order)
  env_steps: np.ndarray
  curves: np.ndarray  # [seeds, iterations] mean_return
  columns: Dict[int, Dict[str, np.ndarray]]
  summary: List[Dict[str, float]]


@dataclasses.dataclass
class SweepResult:
  out: str
  algo: str
  seeds: List[int]
  grid: Dict[str, List[Any]]
  configs: List[ConfigResult]
  num_trials: int
  num_errors: int
  wall_seconds: float


class SweepIncomplete(RuntimeError):
  """A sweep that ended with seeds missing: trials failed beyond their retries, or the sweep
  was interrupted (SIGINT). What finished is kept and summarised; `resume=True` continues.

  Attributes: `result` (the `SweepResult` of what finished), `missing` and `expected`
  (seed runs, over every configuration), `interrupted` (stopped rather than failed)."""

  def __init__(
    self, message: str, result: SweepResult, missing: int, expected: int, interrupted: bool
  ):
    super().__init__(message)
    self.result, self.missing, self.expected = result, missing, expected
    self.interrupted = interrupted


# ------------------------------------------------------------------------- run store
class RunStore:
  """The run folder of one configuration: finished seeds, written once and atomically."""

  def __init__(self, out: str, algo: str, values: Mapping[str, Any], config: Any):
    self.config = dataclasses.asdict(config)
    self._config_obj = config
    self.directory = os.path.join(out, "runs", space_lib.config_key(values, config))
    os.makedirs(self.directory, exist_ok=True)
    meta = {
      "algo": algo,
      "label": space_lib.label(values),
      "values": dict(values),
      "config": self.config,
    }
    path = os.path.join(self.directory, "config.json")
    if os.path.exists(path):
      with open(path) as f:
        if json.load(f)["config"] != self.config:
          raise RuntimeError(f"Run folder {self.directory} holds another configuration.")
    else:
      _atomic_write(path, lambda f: json.dump(meta, f, indent=2, sort_keys=True), "w")

  @classmethod
  def at(cls, directory: str) -> "RunStore":
    """The store of an existing run folder (for reading: `has`, `load`, `events`)."""
    store = cls.__new__(cls)
    store.directory = directory
    with open(os.path.join(directory, "config.json")) as f:
      store.config = json.load(f)["config"]
    return store

  def _npz(self, seed: int) -> str:
    return os.path.join(self.directory, f"seed_{seed}.npz")

  def _fingerprint_file(self, seed: int) -> str:
    return os.path.join(self.directory, f"seed_{seed}.fingerprint")

  def has(self, seed: int) -> bool:
    """Whether `seed` finished here. A store opened for a trial (with its config) counts a
    seed only if its fingerprint (config, seed, code version: `tf_equirl.runs`; the runtime
    is the sweep's) matches, so a
    resumed sweep trains again what other code made; a store opened `at` a folder to read
    it counts every finished seed."""
    if not os.path.exists(self._npz(seed)):
      return False
    config = getattr(self, "_config_obj", None)
    if config is None:
      return True
    try:
      with open(self._fingerprint_file(seed)) as f:
        return f.read().strip() == runs.seed_fingerprint(config, seed, with_runtime=False)
    except OSError:
      return False

  def load(self, seed: int) -> Dict[str, np.ndarray]:
    with np.load(self._npz(seed)) as data:
      return {k: data[k] for k in data.files}

  def save(self, seed: int, columns: Mapping[str, np.ndarray]) -> None:
    results.write_seed_csv(os.path.join(self.directory, f"seed_{seed}.csv"), columns)
    _atomic_write(self._npz(seed), lambda f: np.savez(f, **columns), "wb")
    fingerprint = runs.seed_fingerprint(self._config_obj, seed, with_runtime=False)
    _atomic_write(self._fingerprint_file(seed), lambda f: f.write(fingerprint + "\n"), "w")

  def log(self, event: str, **fields: Any) -> None:
    entry = {
      "event": event,
      "time": time.time(),
      "host": socket.gethostname(),
      "pid": os.getpid(),
      **fields,
    }
    with open(os.path.join(self.directory, "log.jsonl"), "a") as f:
      f.write(json.dumps(entry) + "\n")

  def events(self) -> List[Dict[str, Any]]:
    path = os.path.join(self.directory, "log.jsonl")
    if not os.path.exists(path):
      return []
    with open(path) as f:
      return [json.loads(line) for line in f if line.strip()]


def _atomic_write(path: str, write, mode: str) -> None:
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, mode) as f:
    write(f)
  os.replace(tmp, path)


# ----------------------------------------------------------------------------- trial
def _process_start_time() -> Optional[float]:
  """Wall-clock start of this process (Linux), to separate worker start-up from the trial."""
  try:
    with open("/proc/self/stat") as f:
      ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat") as f:
      boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")
  except (OSError, ValueError, StopIteration):
    return None


def _row(rows: Mapping[str, np.ndarray], i: int) -> Dict[str, float]:
  return {k: float(v[i]) for k, v in rows.items()}


_WORKER_COMPILATION: List[compilation.CompilationConfig] = []


def _configure_worker(xla_runtime: bool, xla_cache: Optional[str]) -> None:
  """Applies the sweep's XLA settings in this worker process before TensorFlow runs anything
  in it (importing TensorFlow, which unpickling the trial does, does not read them; its
  first device initialisation and compilation do). Once per process: a reused worker
  keeps its settings, and another sweep's settings cannot be applied to it."""
  wanted = compilation.CompilationConfig(xla_runtime, xla_cache or None)
  if not _WORKER_COMPILATION:
    _WORKER_COMPILATION.append(compilation.configure(wanted))
  elif _WORKER_COMPILATION[0] != wanted:
    raise RuntimeError(
      f"This Ray worker already compiles with {_WORKER_COMPILATION[0]}; a "
      f"trial asked for {wanted} (XLA reads its flags once per process)."
    )


def _node_id() -> Optional[str]:
  try:
    import ray  # pylint: disable=import-outside-toplevel

    return ray.get_runtime_context().get_node_id()
  except Exception:  # pylint: disable=broad-except  (outside a Ray worker)
    return None


def _open_trial(params: Dict[str, Any], sweep: Dict[str, Any]):
  """`(algorithm, config, store)` of the configuration `params` selects."""
  algorithm = get_algorithm(sweep["algo"])
  names = list(sweep["grid"]) + list(sweep["samplers"])
  values = {n: params[n] for n in names}
  config = space_lib.build_config(algorithm.config_cls, sweep["base"], values)
  return algorithm, config, RunStore(sweep["out"], sweep["algo"], values, config)


def _train(
  algorithm, config, store: RunStore, todo: Sequence[int], trial_id, report=None, finished=None
) -> None:
  """Trains the seeds `todo` in one learner, writing and logging each as it finishes.

  Several PPO seeds train together as one vectorised program (`tf_equirl.runner`): they all
  start at once, and a trial killed before they finish trains them again; otherwise each
  seed starts when the one before it finished."""
  together = vectorizes(config, len(todo))
  for seed in todo if together else todo[:1]:
    store.log("start", seed=seed, trial_id=trial_id)
  for n, (seed, columns) in enumerate(algorithm.run_seeds(config, todo, report)):
    store.save(seed, columns)
    if finished is not None:
      finished(seed)
    store.log("finish", seed=seed, trial_id=trial_id)
    if not together and n + 1 < len(todo):
      store.log("start", seed=todo[n + 1], trial_id=trial_id)


def _train_with_classic_runtime(
  params: Dict[str, Any], sweep: Dict[str, Any], trial_id, error: BaseException
) -> None:
  """What `launchers.common.with_runtime_fallback` does for a launcher, for a trial: XLA's
  newer runtime could not compile this configuration, and the runtime cannot be changed in a
  running process, so the trial's unfinished seeds train in a child process with the
  classic runtime (`python -m tf_equirl.sweeps._classic`), which writes them to the run
  store like the trial would."""
  first = str(error).strip().splitlines()[0][:300] if str(error).strip() else repr(error)
  print(
    f"XLA's runtime could not compile this configuration ({first}); training its seeds "
    "again with XLA's classic runtime in a child process.",
    file=sys.stderr,
    flush=True,
  )
  job = json.dumps({"params": params, "sweep": sweep, "trial_id": trial_id})
  proc = subprocess.run(
    [sys.executable, "-m", "tf_equirl.sweeps._classic"],
    input=job,
    text=True,
    stdout=sys.stdout,
    stderr=subprocess.PIPE,
    check=False,
  )
  if proc.returncode != 0:
    raise RuntimeError(
      f"The classic-runtime retry of trial {trial_id} failed (exit "
      f"{proc.returncode}):\n{proc.stderr[-4000:]}"
    )


def _trial(
  params: Dict[str, Any], sweep: Dict[str, Any], worker: Optional[Dict[str, Any]] = None
) -> None:
  """One Tune trial: the seeds `params["seeds"]` of the configuration `params` selects."""
  entered = time.time()
  worker = worker or {}
  _configure_worker(sweep.get("xla_runtime", False), worker.get("xla_cache"))
  from ray import tune

  algorithm, config, store = _open_trial(params, sweep)
  if sweep.get("tf_threads"):
    import tensorflow as tf

    try:
      tf.config.threading.set_intra_op_parallelism_threads(sweep["tf_threads"])
      tf.config.threading.set_inter_op_parallelism_threads(sweep["tf_threads"])
    except RuntimeError:  # TF already initialised in this worker: keep its pools
      pass
  seeds = list(params["seeds"])
  trial_id = tune.get_context().get_trial_id()
  store.log(
    "trial",
    trial_id=trial_id,
    seeds=seeds,
    entered=entered,
    process_start=_process_start_time(),
    node_id=_node_id(),
    xla_runtime=compilation.runtime_enabled(),
  )
  done = [0]
  for seed in seeds:
    if store.has(seed):
      done[0] += 1
      tune.report(
        {**_row(store.load(seed), -1), "seed": seed, "seeds_done": done[0], "reused": True}
      )
  every = sweep["report_every_iteration"]

  def report(seed, rows):
    first = 0 if every else len(rows["env_steps"]) - 1
    for i in range(first, len(rows["env_steps"])):
      tune.report({**_row(rows, i), "seed": seed, "seeds_done": done[0], "reused": False})

  def finished(seed):
    done[0] += 1

  todo = [s for s in seeds if not store.has(s)]
  try:
    _train(algorithm, config, store, todo, trial_id, report, finished)
  except Exception as error:  # pylint: disable=broad-except
    if not (compilation.runtime_enabled() and compilation.is_runtime_failure(error)):
      raise
    todo = [s for s in seeds if not store.has(s)]
    store.log("fallback", seeds=todo, trial_id=trial_id, error=str(error).strip()[:300])
    _train_with_classic_runtime(params, sweep, trial_id, error)
    for seed in todo:
      done[0] += 1
      tune.report(
        {**_row(store.load(seed), -1), "seed": seed, "seeds_done": done[0], "reused": False}
      )


def _trial_dirname(trial) -> str:
  return f"trial_{trial.trial_id}"


# ---------------------------------------------------------------------------- driver
def connect(address: Optional[str] = None, num_cpus: Optional[int] = None) -> None:
  """Joins the Ray cluster at `address` ("auto", "HOST:PORT"), else starts Ray on this machine.

  Without an address the Ray started is always a new one of this process, even where another
  Ray runs on the machine (`ray start`, or a cluster a test simulates): Ray's own default
  would join the last one started there and run the sweep on its nodes.
  A local Ray gets this checkout on its workers' PYTHONPATH, so a sweep runs from a source
  tree; on a cluster every node needs the package installed (`pip install tf_equirl[sweep]`).
  Nothing happens if Ray is already initialised.
  """
  import ray

  if ray.is_initialized():
    return
  if address:
    ray.init(address=address, logging_level=logging.WARNING)
    return
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
  ray.init(
    address="local",
    num_cpus=num_cpus,
    include_dashboard=False,
    logging_level=logging.WARNING,
    runtime_env={"env_vars": {"PYTHONPATH": path}},
  )


def seed_groups(seeds: Sequence[int], seeds_per_trial: Optional[int]) -> List[List[int]]:
  """Consecutive groups of at most `seeds_per_trial` seeds (one group for None)."""
  seeds = list(seeds)
  if seeds_per_trial is None:
    return [seeds]
  if (
    isinstance(seeds_per_trial, bool) or not isinstance(seeds_per_trial, int) or seeds_per_trial < 1
  ):
    raise ValueError(
      f"seeds_per_trial must be a positive integer or None, received " f"{seeds_per_trial!r}."
    )
  return [seeds[i : i + seeds_per_trial] for i in range(0, len(seeds), seeds_per_trial)]


def default_xla_runtime(
  algo: str, base: Any, groups: Sequence[Sequence[int]], xla_cache: Optional[str] = None
) -> bool:
  """Whether a sweep's trials compile with XLA's newer runtime when `run_sweep` is not told:
  as the algorithm's launcher, the classic runtime where a trial trains several seeds as one
  vectorised program (the newer runtime runs its batched products much more slowly), else
  `Algorithm.xla_runtime`. Several PPO seeds under the newer runtime train as lone programs
  one after another (`tf_equirl.runner.lone_programs`), so they keep the algorithm's choice;
  so does a cache folder, which needs the newer runtime.

  Args:
    algo: a registered algorithm.
    base: the sweep's base config.
    groups: the seeds of each trial (`seed_groups`).
    xla_cache: the sweep's cache folder, if any.
  """
  default = get_algorithm(algo).xla_runtime
  several = vectorizes(base, max((len(g) for g in groups), default=0)) and not isinstance(
    base, PPOConfig
  )
  return bool(default and (xla_cache is not None or not several))


def run_sweep(
  algo: str,
  space: Mapping[str, Any],
  seeds: Sequence[int],
  out: str,
  env: str = "CartPole-v1",
  base: Any = None,
  overrides: Optional[Mapping[str, Any]] = None,
  num_samples: int = 1,
  seeds_per_trial: Optional[int] = None,
  cpus_per_trial: float = 1,
  tf_threads: Optional[int] = None,
  max_failures: int = 2,
  reuse_workers: bool = True,
  address: Optional[str] = None,
  num_cpus: Optional[int] = None,
  resume: bool = False,
  checkpoints: Optional[Sequence[int]] = None,
  report_every_iteration: bool = False,
  callbacks: Sequence[Any] = (),
  verbose: int = 0,
  command: Optional[str] = None,
  xla_runtime: Optional[bool] = None,
  xla_cache: Optional[str] = None,
) -> SweepResult:
  """Runs a sweep through Ray Tune and writes its aggregate into `out`.

  Args:
    algo: a registered algorithm ("ppo"; see `register_algorithm`).
    space: field -> list of values (grid) or Tune sampler (random search); checked before
      Ray starts (`space.validate_space`).
    seeds: the seeds every configuration runs.
    out: output folder: `runs/` (per configuration and seed), `tune/` (Ray Tune's
      experiment), `sweep.json`, `summary.{json,md}` and plots.
    env: environment, when `base` is not given.
    base: the base config (default `algorithm.default_config(env, **overrides)`).
    overrides: fields of the default config to change in every trial.
    num_samples: draws of the samplers per grid point (Tune's `num_samples`).
    seeds_per_trial: seeds run in one trial, i.e. one worker and one compiled graph (default
      all); smaller groups spread one configuration over more workers. Only for grids: with
      samplers every trial draws its own configuration, so it runs all seeds.
    cpus_per_trial: CPUs Ray reserves per trial (`tune.with_resources`).
    tf_threads: TensorFlow intra- and inter-op threads per trial (default: TF's choice).
    max_failures: retries of a crashed trial (`FailureConfig(max_failures)`).
    reuse_workers: let a worker process run trial after trial (Tune's `reuse_actors`), so
      only the first trial of a worker pays for importing TensorFlow; every configuration
      still builds and compiles its own learner.
    address: an existing Ray cluster ("auto" or "HOST:PORT"); default a local Ray with
      `num_cpus` CPUs (default all).
    resume: continue the interrupted sweep in `out` (its `sweep.json` must match).
    checkpoints: env steps for the summary (default: the algorithm's per-environment ones).
    report_every_iteration: report every iteration to Tune rather than every compiled call.
    callbacks: `ray.tune.Callback`s for the driver.
    verbose: Tune's verbosity (0 silent, 1 status table).
    command: the command line to record in `summary.md`.
    xla_runtime: compile the trials with XLA's newer CPU runtime (`tf_equirl.compilation`);
      default as the algorithm's launcher: the classic runtime where a trial trains several
      seeds as one vectorised program, else `Algorithm.xla_runtime`, so a trial equals the
      launcher's run on defaults. Each worker sets it before TensorFlow starts; a
      configuration the newer runtime cannot compile trains again with the classic one in a
      child process (as `launchers.common.with_runtime_fallback` does for a launcher).
    xla_cache: a persistent compilation cache folder for the workers (needs `xla_runtime`;
      default none: workers compile side by side).

  Raises:
    ValueError: for a bad search space, environment, seeds or `out`, or a folder that holds
      another sweep with finished seeds (all before Ray starts).
    SweepIncomplete: if seeds are missing at the end, because trials failed beyond
      `max_failures` or the sweep was interrupted (after writing what finished).
  """
  algorithm = get_algorithm(algo)
  if base is None:
    base = algorithm.default_config(env)
  if overrides:  # dotted names set nested fields (dyna: "ppo.total_steps")
    base = space_lib.build_config(algorithm.config_cls, dataclasses.asdict(base), overrides)
  if not isinstance(base, algorithm.config_cls):
    raise ValueError(
      f"run_sweep({algo!r}): base must be a {algorithm.config_cls.__name__}, "
      f"received {type(base).__name__}."
    )
  if algorithm.check_config is not None:
    try:
      algorithm.check_config(base)
    except ValueError as e:
      raise ValueError(f"run_sweep({algo!r}): the base configuration is invalid: {e}") from e
  grid, samplers = space_lib.validate_space(algorithm, base, space)
  seeds = space_lib.check_seeds(seeds)
  if samplers and seeds_per_trial is not None and seeds_per_trial < len(seeds):
    raise ValueError(
      "seeds_per_trial must be None with samplers in the space: each trial "
      "draws its own configuration, so one trial runs all seeds of it."
    )
  groups = seed_groups(seeds, seeds_per_trial)
  if xla_runtime is None:
    xla_runtime = default_xla_runtime(algo, base, groups, xla_cache)
  compilation.CompilationConfig(bool(xla_runtime), xla_cache)  # a cache needs the runtime
  if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
    raise ValueError(f"num_samples must be a positive integer, received {num_samples!r}.")
  out = os.path.abspath(out)
  spec = {
    "algo": algo,
    "base": dataclasses.asdict(base),
    "grid": grid,
    "samplers": {n: repr(d) for n, d in samplers.items()},
    "seeds": seeds,
    "seeds_per_trial": seeds_per_trial,
    "num_samples": num_samples,
    "out": out,
    "report_every_iteration": bool(report_every_iteration),
    "tf_threads": tf_threads,
    "checkpoints": list(checkpoints) if checkpoints else None,
    "xla_runtime": bool(xla_runtime),
  }
  _claim_out(out, spec, resume)

  from ray import tune
  from tf_equirl.sweeps import _callbacks

  connect(address, num_cpus)
  _callbacks.use(callbacks)
  trainable = tune.with_resources(
    tune.with_parameters(_trial, sweep=spec, worker={"xla_cache": xla_cache}),
    {"cpu": cpus_per_trial},
  )
  tune_path = os.path.join(out, TUNE_DIR)
  start = time.perf_counter()
  if resume and tune.Tuner.can_restore(tune_path):
    tuner = tune.Tuner.restore(
      tune_path, trainable=trainable, resume_unfinished=True, resume_errored=True
    )
  else:
    param_space: Dict[str, Any] = {n: tune.grid_search(v) for n, v in grid.items()}
    param_space.update(samplers)
    param_space["seeds"] = tune.grid_search(groups) if len(groups) > 1 else groups[0]
    tuner = tune.Tuner(
      trainable,
      param_space=param_space,
      tune_config=tune.TuneConfig(
        num_samples=num_samples, reuse_actors=reuse_workers, trial_dirname_creator=_trial_dirname
      ),
      run_config=tune.RunConfig(
        name=TUNE_DIR,
        storage_path=out,
        verbose=verbose,
        callbacks=[_callbacks.ForwardCallbacks()],
        failure_config=tune.FailureConfig(max_failures=max_failures),
      ),
    )
  interrupted = False
  try:
    grid_result = tuner.fit()
  except KeyboardInterrupt:  # a second SIGINT while Tune was saving its state
    grid_result, interrupted = None, True
  wall = time.perf_counter() - start
  result = aggregate(out, command=command)
  result.num_trials = len(grid_result) if grid_result is not None else 0
  result.num_errors = grid_result.num_errors if grid_result is not None else 0
  result.wall_seconds = wall
  expected = len(space_lib.grid_points(grid)) * num_samples * len(seeds)
  missing = expected - sum(len(c.seeds) for c in result.configs)
  if result.num_errors or missing > 0 or interrupted:
    # ResultGrid has __len__ and __getitem__ (no __iter__ in its annotations)
    first_error = (
      next(
        grid_result[i].error for i in range(len(grid_result)) if grid_result[i].error is not None
      )
      if grid_result is not None and result.num_errors
      else None
    )
    how = (
      f"{result.num_errors} of {result.num_trials} trials failed after {max_failures} "
      f"retries (first error: {first_error!r})"
      if result.num_errors
      else "the sweep was interrupted"
    )
    raise SweepIncomplete(
      f"Sweep incomplete: {max(missing, 0)} of {expected} seed runs are missing ({how}). "
      f"The finished seeds are kept in {out}/runs and summarised in {out}/summary.md; "
      "continue with resume=True (launchers.sweep: the same command with --resume).",
      result,
      max(missing, 0),
      expected,
      interrupted=not result.num_errors,
    )
  return result


def resume_sweep(
  out: str,
  address: Optional[str] = None,
  num_cpus: Optional[int] = None,
  callbacks: Sequence[Any] = (),
  verbose: int = 0,
  command: Optional[str] = None,
  **kwargs: Any,
) -> SweepResult:
  """Continues the sweep recorded in `out/sweep.json` (base, grid, seeds and options)."""
  spec = _read_spec(out)
  if spec is None:
    raise ValueError(f"No sweep to resume in {out} ({SPEC_FILE} is missing).")
  if spec["samplers"]:
    raise ValueError(
      f"The sweep in {out} has samplers ({', '.join(spec['samplers'])}); resume "
      "it with run_sweep(..., resume=True) and the same space."
    )
  algorithm = get_algorithm(spec["algo"])
  kwargs.setdefault("xla_runtime", spec.get("xla_runtime", False))  # older sweeps: classic
  return run_sweep(
    spec["algo"],
    spec["grid"],
    spec["seeds"],
    out,
    base=algorithm.config_cls(**spec["base"]),
    num_samples=spec["num_samples"],
    seeds_per_trial=spec["seeds_per_trial"],
    tf_threads=spec["tf_threads"],
    report_every_iteration=spec["report_every_iteration"],
    checkpoints=spec["checkpoints"],
    address=address,
    num_cpus=num_cpus,
    resume=True,
    callbacks=callbacks,
    verbose=verbose,
    command=command,
    **kwargs,
  )


def _read_spec(out: str) -> Optional[Dict[str, Any]]:
  path = os.path.join(out, SPEC_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def _finished_seeds(out: str) -> int:
  """Seeds written by any configuration of the sweep in `out`."""
  runs = os.path.join(out, "runs")
  if not os.path.isdir(runs):
    return 0
  return sum(
    1
    for key in os.listdir(runs)
    if os.path.isdir(os.path.join(runs, key))
    for name in os.listdir(os.path.join(runs, key))
    if name.startswith("seed_") and name.endswith(".npz")
  )


def _claim_out(out: str, spec: Dict[str, Any], resume: bool) -> None:
  """Records the sweep in `out`, refusing a folder that holds another sweep's finished seeds.

  A sweep that finished no seed (its trials failed, or it was stopped early) holds nothing
  worth keeping, so a new sweep may take its folder: its spec is replaced and Tune's stale
  experiment removed."""
  if os.path.exists(out) and not os.path.isdir(out):
    raise ValueError(
      f"The sweep's output folder {out} is an existing file; expected a folder "
      "(new or holding a sweep)."
    )
  previous = _read_spec(out)
  if previous is not None and not resume:
    finished = _finished_seeds(out)
    if finished:
      raise ValueError(
        f"{out} already holds a sweep with {finished} finished seed runs "
        f"({SPEC_FILE}); pass resume=True (--resume) to continue it or choose "
        "another output folder."
      )
    shutil.rmtree(os.path.join(out, TUNE_DIR), ignore_errors=True)
    previous = None
  if previous is not None:
    previous.setdefault("xla_runtime", False)  # recorded before the setting: the classic one
    differing = sorted(
      k
      for k in set(spec) | set(previous)
      if json.dumps(spec.get(k), sort_keys=True) != json.dumps(previous.get(k), sort_keys=True)
    )
    if differing:
      raise ValueError(
        f"Cannot resume the sweep in {out}: it was started with other "
        f"{', '.join(differing)} (see {os.path.join(out, SPEC_FILE)})."
      )
    return
  os.makedirs(out, exist_ok=True)
  _atomic_write(
    os.path.join(out, SPEC_FILE), lambda f: json.dump(spec, f, indent=2, sort_keys=True), "w"
  )


# ---------------------------------------------------------------------------- aggregate
def aggregate(out: str, command: Optional[str] = None) -> SweepResult:
  """Reads every configuration's run folder in `out` and writes the summary files."""
  spec = _read_spec(out)
  if spec is None:
    raise ValueError(f"No sweep in {out} ({SPEC_FILE} is missing).")
  algorithm = get_algorithm(spec["algo"])
  runs = os.path.join(out, "runs")
  order = {space_lib.label(p): i for i, p in enumerate(space_lib.grid_points(spec["grid"]))}
  configs = []
  for key in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
    meta_path = os.path.join(runs, key, "config.json")
    if not os.path.exists(meta_path):
      continue
    with open(meta_path) as f:
      meta = json.load(f)
    store = RunStore.at(os.path.join(runs, key))
    seeds = [s for s in spec["seeds"] if store.has(s)]
    if not seeds:
      continue
    columns = {s: store.load(s) for s in seeds}
    env_steps = columns[seeds[0]]["env_steps"]
    curves = np.stack([columns[s]["mean_return"] for s in seeds])
    summary = results.summarize(curves, env_steps, _checkpoints(spec, algorithm, env_steps))
    configs.append(
      ConfigResult(
        meta["label"],
        meta["values"],
        meta["config"],
        store.directory,
        seeds,
        env_steps,
        curves,
        columns,
        summary,
      )
    )
  configs.sort(key=lambda c: (order.get(c.label, len(order)), c.label))
  result = SweepResult(
    out,
    spec["algo"],
    spec["seeds"],
    spec["grid"],
    configs,
    num_trials=0,
    num_errors=0,
    wall_seconds=float("nan"),
  )
  if configs:
    _write_summary(result, spec, command)
  return result


def _env(spec) -> str:
  """The environment of a sweep (DynaConfig keeps it in its PPO config)."""
  return get_algorithm(spec["algo"]).config_cls(**spec["base"]).env


def _checkpoints(spec, algorithm, env_steps: np.ndarray) -> List[int]:
  wanted = spec["checkpoints"] or algorithm.checkpoints.get(_env(spec), ())
  # one iteration's env steps (the curves of "ac" start with an evaluation at step 0)
  step = int(env_steps[1] - env_steps[0]) if len(env_steps) > 1 else int(env_steps[0])
  kept = [int(c) for c in wanted if c < env_steps[-1] + step]
  return kept or [int(env_steps[-1])]


def _write_summary(result: SweepResult, spec, command: Optional[str]) -> None:
  out, env = result.out, _env(spec)
  incomplete = [c.label for c in result.configs if len(c.seeds) < len(spec["seeds"])]
  results.write_json(
    os.path.join(out, "summary.json"),
    {
      "algo": spec["algo"],
      "env": env,
      "seeds": spec["seeds"],
      "grid": spec["grid"],
      "samplers": spec["samplers"],
      "base": spec["base"],
      "configs": [
        {
          "label": c.label,
          "values": c.values,
          "directory": os.path.relpath(c.directory, out),
          "seeds": c.seeds,
          "summary": c.summary,
        }
        for c in result.configs
      ],
    },
  )
  summaries = {c.label: c.summary for c in result.configs}
  with open(os.path.join(out, "summary.md"), "w") as f:
    f.write(f"# Sweep: {spec['algo']} on {env}\n\n")
    if command:
      f.write(f"Command: `{command}`\n\n")
    fixed = ", ".join(
      f"{k}={v}"
      for k, v in spec["base"].items()
      if k not in spec["grid"] and k not in spec["samplers"] and k != "seed"
    )
    f.write(
      f"Base configuration: {fixed}.\n\n{len(spec['seeds'])} seeds per configuration; "
      "mean episodic return +- 2 standard errors (worst-decile cumulative mean in "
      "brackets) at each env step count.\n\n"
    )
    if incomplete:
      f.write(f"**Incomplete** (fewer seeds than asked): {', '.join(incomplete)}.\n\n")
    f.write(results.markdown_summary(summaries, labels_as_rows=True))
    f.write("\n![curves](curves.png)\n")
    if len(spec["grid"]) == 2 and not spec["samplers"]:
      f.write("\n![heatmap](heatmap.png)\n\n![matrix](matrix.png)\n")
  env_steps = result.configs[0].env_steps
  same_length = all(len(c.env_steps) == len(env_steps) for c in result.configs)
  if same_length:
    results.plot_curves(
      os.path.join(out, "curves.png"),
      {c.label: c.curves for c in result.configs},
      env_steps,
      title=f"{spec['algo']} on {env}",
    )
  if len(spec["grid"]) == 2 and not spec["samplers"]:
    (x_name, x_values), (y_name, y_values) = list(spec["grid"].items())
    cells = {}
    for c in result.configs:
      cells[(c.values[x_name], c.values[y_name])] = c
    results.plot_heatmap(
      os.path.join(out, "heatmap.png"),
      x_name,
      x_values,
      y_name,
      y_values,
      {k: c.summary[-1] for k, c in cells.items()},
      title=f"{spec['algo']} on {env}: return at {result.configs[0].summary[-1]['step']:,} "
      "steps, mean +- 2SE (worst 10 %)",
    )
    results.plot_curve_matrix(
      os.path.join(out, "matrix.png"),
      x_name,
      x_values,
      y_name,
      y_values,
      {k: (c.env_steps, c.curves) for k, c in cells.items()},
      title=f"{spec['algo']} on {env}",
    )


def run_config_on_ray(
  config,
  seeds: Sequence[int],
  out: str,
  seeds_per_trial: Optional[int] = None,
  address: Optional[str] = None,
  resume: bool = True,
  checkpoints: Optional[Sequence[int]] = None,
  verbose: int = 1,
  xla_runtime: Optional[bool] = None,
):
  """Every seed of one config (a `PPOConfig` or `DynaConfig`) as Tune trials: the
  `--backend=ray` of `launchers.reproduce_ppo` and `reproduce_dyna`.

  Returns `(env_steps, curves [seeds, iterations])`. With `resume`, a finished or interrupted
  sweep in `out` is continued instead of started again. `xla_runtime`: as `run_sweep`'s
  (`run_arms` passes the calling process' setting, so both backends compile alike).
  """
  from tf_equirl.sweeps.registry import _ALGORITHMS  # pylint: disable=import-outside-toplevel

  algo = next((a.name for a in _ALGORITHMS.values() if isinstance(config, a.config_cls)), None)
  if algo is None:
    raise ValueError(f"No sweep algorithm is registered for {type(config).__name__}.")
  resume = resume and os.path.exists(os.path.join(out, SPEC_FILE))
  result = run_sweep(
    algo,
    {},
    seeds,
    out,
    base=config,
    seeds_per_trial=seeds_per_trial,
    address=address,
    resume=resume,
    checkpoints=checkpoints,
    verbose=verbose,
    xla_runtime=xla_runtime,
  )
  (runs,) = result.configs
  return runs.env_steps, runs.curves


def run_arms_on_ray(
  arms,
  seeds: Sequence[int],
  runs_dir: str,
  resume: bool = True,
  seeds_per_trial: Optional[int] = None,
  address: Optional[str] = None,
):
  """`tf_equirl.runner.run_arms` with each arm's seeds as Ray Tune trials
  (`run_config_on_ray`, on this machine or the cluster at `address`), compiled as this
  process would compile them; `{name: (env_steps, curves [seeds, iterations],
  parameter_counts)}`. The runs of an arm go to its folder under `runs_dir` with `_ray`
  appended."""
  from tf_equirl import runner  # pylint: disable=import-outside-toplevel  (TensorFlow)

  out = {}
  for arm in arms:
    env = getattr(arm.config, "ppo", arm.config).env
    env_steps, curves = run_config_on_ray(
      arm.config,
      seeds,
      runner.arm_folder(runs_dir, arm) + "_ray",
      seeds_per_trial,
      address,
      resume,
      checkpoints=runner.default_checkpoints(env) or None,
      xla_runtime=compilation.runtime_enabled(),
    )
    out[arm.name] = (env_steps, curves, runner.build_agent(arm.config)[0].parameter_counts())
  return out
