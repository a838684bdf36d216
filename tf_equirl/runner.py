"""The seed runner shared by PPO, Dyna, sweeps and the studies: train a config once per seed.

* `run_experiment(config, seeds, out_dir)`: trains a `PPOConfig` or a `DynaConfig` once per
  seed in one learner (one compiled graph), logs (progress bar, TensorBoard, CSV) and writes
  the run folder (`tf_equirl.runs`) and its summary; `resume_experiment` continues one.
* `Arm` and `run_arms`: many configurations of a comparison, each in its own run folder,
  finished ones reused.
* `train_seeds`: the same training without files, yielding each seed's columns (what
  `tf_equirl.sweeps` runs in a Ray Tune trial); `seed_columns`: a seed's per-iteration columns.

The runner sits above the agents (`tf_equirl.agents.ppo`, `tf_equirl.agents.dyna`) and below
`tf_equirl.sweeps` and `tf_equirl.experiments`, which it does not import.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from tf_equirl import compilation, results, runs
from tf_equirl.agents.dyna import Dyna, DynaConfig
from tf_equirl.agents.dyna import seed_batch as dyna_seed_batch
from tf_equirl.agents.ppo import PPO, PPOConfig, TrainResult
from tf_equirl.agents.ppo.learner import METRICS
from tf_equirl.agents.ppo.seed_batch import SeedBatchPPO
from tf_equirl.envs.defaults import find_env_defaults
from tf_equirl.lanes import Stopped, check_lane_count, default_lanes, run_lanes

__all__ = [
  "AgentConfig",
  "ExperimentResult",
  "run_experiment",
  "resume_experiment",
  "Arm",
  "run_arms",
  "arm_folder",
  "train_seeds",
  "seed_columns",
  "build_agent",
  "default_checkpoints",
  "check_seed_batch",
  "check_concurrent_groups",
  "default_lanes",
  "default_seed_batch",
  "DEFAULT_GROUP_SEEDS",
  "vectorizes",
  "lone_programs",
  "save_model",
]

AgentConfig = Union[PPOConfig, DynaConfig]
"""What the runner trains: a `PPOConfig` (PPO) or a `DynaConfig` (the Dyna driver)."""


def default_checkpoints(env: str) -> Tuple[int, ...]:
  """The checkpoints of `env`'s results tables (`tf_equirl.envs.defaults`; a variant takes its
  base environment's), or `()` for an environment without defaults."""
  found = find_env_defaults(env)
  return found.checkpoints if found is not None else ()


@dataclasses.dataclass
class ExperimentResult:
  env_steps: np.ndarray
  curves: np.ndarray  # [seeds, iterations] PureJaxRL mean-return metric
  summary: List[Dict[str, float]]
  parameter_counts: Dict[str, int]
  compile_seconds: float
  steps_per_second: float  # after compilation, over all seeds


def run_experiment(
  config: AgentConfig,
  seeds: Sequence[int],
  out_dir: Optional[str] = None,
  checkpoints: Optional[Sequence[int]] = None,
  progress: bool = True,
  tensorboard: bool = True,
  save_models: bool = True,
  resume: bool = False,
  overwrite: bool = False,
  checkpoint_every: int = 0,
  vectorize: Optional[bool] = None,
  seed_batch: Optional[int] = None,
  concurrent_groups: Optional[int] = None,
) -> ExperimentResult:
  """Trains `config` once per seed.

  `config` is a `PPOConfig`, or a `tf_equirl.agents.dyna.DynaConfig` (then the Dyna driver
  trains; its curves are over real steps and the CSVs add the planned steps beside them).

  How the seeds run: a `PPOConfig` with more than one seed to train runs them together as one
  vectorised XLA program (`tf_equirl.agents.ppo.seed_batch.SeedBatchPPO`: each seed exactly
  its lone run), `seed_batch` seeds at a time (default all) so that memory stays bounded;
  each group's outputs are written as soon as it finishes, so an interrupted run keeps every
  group it finished. A `DynaConfig` runs the same way
  (`tf_equirl.agents.dyna.seed_batch.SeedBatchDyna`). Where XLA's newer CPU runtime compiles
  a `PPOConfig` on a CPU (or with `seed_batch=1`), each seed trains instead as its own lone
  program, one per lane (`lone_programs`): that runtime is fast on one seed's program and
  slow on the seed axis' batched products. `vectorize=False` trains the seeds one
  after another in one compiled graph instead, with
  `checkpoint_every` checkpoints inside each seed's run (the vectorised path keeps whole
  groups, not checkpoints).

  Without a `seed_batch`, the groups are those of `default_seed_batch` (even groups of at
  most `DEFAULT_GROUP_SEEDS`), which depend on the number of seeds only, so a seed's curve
  does not depend on the machine. `concurrent_groups` seed groups (PPO or Dyna) train at
  once, each its own program in its own thread (XLA's CPU backend runs one program on one
  core, so this is how the vectorised path uses the others); the default is one group per
  CPU core this process may use (one where a GPU is visible). What runs beside a group does
  not change its seeds' runs. A diverged seed fails the run once the groups already running
  have finished (they are kept); no group starts after it.

  Writes into `out_dir` (if given): `run.json` (the config and each finished seed's
  fingerprint, `tf_equirl.runs`), `seed_<k>.csv` (env steps, mean return, finished
  episodes, losses), TensorBoard scalars under `tb/seed_<k>`, `seed_<k>/actor.keras` and
  `critic.keras` (and `world_model.keras` for online Dyna), `summary.json` and `summary.md`
  at the checkpoints.

  The folder is checked before any training (`tf_equirl.runs.RunFolder`): it must be new or
  empty, or hold this configuration's run with `resume` (finished seeds of the same code are
  reused, an interrupted seed continues from its last checkpoint), or be replaced with
  `overwrite`. `checkpoint_every` iterations (0: never) each seed's state is saved.

  Raises:
    ValueError: no seeds, duplicate seeds, a negative `checkpoint_every`, a `seed_batch`
      that is not an integer in [1, number of seeds], `concurrent_groups` below 1, or a
      config that is neither a `PPOConfig` nor a `DynaConfig`.
    tf_equirl.runs.RunFolderError: `out_dir` cannot take this run.
    tf_equirl.runs.TrainingDiverged: a seed's training diverged; the folder is marked failed
      and no summary is written (the other seeds of its group, and the groups running beside
      it, are kept).
  """
  seeds = list(seeds)
  if not seeds:
    raise ValueError("run_experiment needs at least one seed.")
  if len(set(seeds)) != len(seeds):
    raise ValueError(f"run_experiment: duplicate seeds in {seeds}; each seed runs once.")
  if checkpoint_every < 0:
    raise ValueError(
      f"run_experiment: checkpoint_every must be >= 0 iterations (0: no "
      f"checkpoints), received {checkpoint_every}."
    )
  check_seed_batch(seed_batch, len(seeds))
  check_concurrent_groups(concurrent_groups)
  if not _vectorizable(config):
    raise ValueError(
      f"run_experiment expects a PPOConfig or a DynaConfig, received {type(config).__name__}."
    )
  folder = (
    runs.RunFolder(out_dir, config, seeds, resume=resume, overwrite=overwrite) if out_dir else None
  )
  todo = [s for s in seeds if folder is None or not folder.is_finished(s)]
  batch: Optional[Union[SeedBatchPPO, _LonePrograms]] = None
  lanes: List[Union[SeedBatchPPO, _LonePrograms]] = []
  agent: Optional[Union[PPO, Dyna]] = None
  ppo_config: PPOConfig
  if vectorizes(config, len(todo), vectorize):
    num_lanes = concurrent_groups or default_lanes()
    if isinstance(config, PPOConfig) and lone_programs(config, seed_batch):
      num_lanes = min(num_lanes, len(todo))
      lanes = [_LonePrograms(config, todo) for _ in range(num_lanes)]
    else:
      seed_batch = seed_batch or default_seed_batch(config, len(todo))
      num_lanes = min(num_lanes, -(-len(todo) // seed_batch))  # no more lanes than groups
      lanes = [_seed_batch(config, todo, seed_batch) for _ in range(num_lanes)]
    built = lanes[0]
    batch = built
    ppo_config, counts = built.config, built.parameter_counts()
    steps_per_seed = (
      batch.total_real_steps
      if isinstance(batch, dyna_seed_batch.SeedBatchDyna)
      else ppo_config.num_iterations * ppo_config.batch_size
    )
  else:
    agent, config, ppo_config = build_agent(config)
    counts = agent.parameter_counts()
    steps_per_seed = (
      agent.total_real_steps
      if isinstance(agent, Dyna)
      else ppo_config.num_iterations * ppo_config.batch_size
    )
  if folder is not None:
    folder.start()  # the config and the agent are valid: take the folder
  checkpoints = tuple(checkpoints or default_checkpoints(ppo_config.env))
  last = steps_per_seed
  checkpoints = tuple(c for c in checkpoints if c < last + ppo_config.batch_size) or (last,)
  label = (
    f"{ppo_config.env} {ppo_config.network} actor ({counts['actor']} params) + "
    f"{ppo_config.critic} critic ({counts['critic']}), "
    f"{counts['actor'] + counts['critic']} in total"
  )
  if isinstance(agent, Dyna) or isinstance(batch, dyna_seed_batch.SeedBatchDyna):
    described = (agent or batch).describe()  # type: ignore[union-attr]
    label += f"; {described}, world model {counts['world_model']} params"
  print(label, flush=True)
  if folder is not None and folder.stale_seeds():
    print(
      f"seeds {folder.stale_seeds()} in {out_dir} were made by other code or settings: "
      "training them again",
      flush=True,
    )
  finished = [s for s in seeds if folder is not None and folder.is_finished(s)]
  if finished:
    print(f"reusing the finished seeds {finished} in {out_dir}", flush=True)
  bar = _progress_bar(progress, (len(seeds) - len(finished)) * steps_per_seed, ppo_config)
  seed_curves: List[np.ndarray]
  env_steps: Optional[np.ndarray]
  if batch is not None:
    if isinstance(batch, _LonePrograms):
      print(
        f"training {len(batch.seeds)} seeds, each as its own compiled program (its lone "
        f"run), {len(lanes)} at once",
        flush=True,
      )
    else:
      at_once = f", {len(lanes)} groups at once" if len(lanes) > 1 else ""
      print(
        f"training {len(batch.seeds)} seeds as one vectorised program, {batch.seed_batch} "
        f"at a time{at_once}",
        flush=True,
      )
    trained_curves, compile_s, train_s, train_steps, env_steps = _train_vectorized(
      lanes, folder, out_dir, tensorboard, save_models, bar
    )
    seed_curves = [
      trained_curves[s]
      if s in trained_curves
      else results.read_seed_csv(_seed_csv(folder, s))["mean_return"]
      for s in seeds
    ]
    trained = len(trained_curves)
    seeds_loop: Sequence[int] = ()
  else:
    seed_curves = []
    compile_s, train_s, train_steps = 0.0, 0.0, 0
    env_steps = None
    trained = 0
    seeds_loop = seeds
  for seed in seeds_loop:
    if folder is not None and seed in finished:
      columns = results.read_seed_csv(folder.seed_csv(seed))
      seed_curves.append(columns["mean_return"])
      env_steps = columns["env_steps"].astype(np.int64)
      continue
    writer = (
      tf.summary.create_file_writer(os.path.join(out_dir, "tb", f"seed_{seed}"))
      if out_dir and tensorboard
      else None
    )
    write_scalars = _scalar_writer(writer) if writer is not None else None
    done = [0]
    start = time.perf_counter()
    # The first seed's output work (importing matplotlib, tracing the TensorBoard writer)
    # runs in a thread beside the XLA compilation of the training call.
    prepare = (
      threading.Thread(target=_prepare_outputs, args=(write_scalars,), daemon=True)
      if out_dir and trained == 0
      else None
    )

    def callback(
      metrics, seed=seed, write_scalars=write_scalars, done=done, start=start, prepare=prepare
    ):
      if prepare is not None and prepare.ident is not None:
        prepare.join()
      k = len(metrics["mean_return"])
      if write_scalars is not None:  # between compiled calls: no summary op in the XLA graph
        steps = (done[0] + np.arange(1, k + 1, dtype=np.int64)) * ppo_config.batch_size
        write_scalars(steps, {name: np.asarray(v, np.float32) for name, v in metrics.items()})
      done[0] += k
      if bar is not None:
        bar.update(k * ppo_config.batch_size)
        elapsed = time.perf_counter() - start
        bar.set_postfix(
          seed=seed,
          ret=f"{metrics['mean_return'][-1]:.3g}",
          sps=f"{done[0] * ppo_config.batch_size / max(elapsed, 1e-9):,.0f}",
        )

    checkpoint = folder.checkpoint(seed, checkpoint_every) if folder is not None else None
    if agent is None:  # the loop runs only on the sequential path, which built the agent
      raise RuntimeError("run_experiment: no sequential agent was built.")
    try:
      result = agent.train(
        callback=callback,
        seed=seed,
        checkpoint=checkpoint,
        on_compile=prepare.start if prepare is not None else None,
      )
    except runs.TrainingDiverged as error:
      if bar is not None:
        bar.close()
      if folder is not None:
        folder.fail(error, seed, getattr(error, "columns", None))
      raise
    if writer is not None:
      writer.flush()
    if trained == 0:
      compile_s = result.compile_seconds
    trained += 1
    train_s += result.train_seconds
    train_steps += result.env_steps[-1] - result.compile_steps
    seed_curves.append(result.mean_return)
    env_steps = result.env_steps
    if out_dir and folder is not None:
      results.write_seed_csv(folder.seed_csv(seed), seed_columns(result))
      if save_models:
        os.makedirs(os.path.join(out_dir, f"seed_{seed}"), exist_ok=True)
        save_model(agent.actor_model, os.path.join(out_dir, f"seed_{seed}", "actor.keras"))
        save_model(agent.critic_model, os.path.join(out_dir, f"seed_{seed}", "critic.keras"))
        if (
          isinstance(agent, Dyna)
          and agent.config.mode == "online"
          and agent.world_model is not None
        ):
          save_model(agent.world_model, os.path.join(out_dir, f"seed_{seed}", "world_model.keras"))
      folder.finish_seed(seed)
  if bar is not None:
    bar.close()
  if env_steps is None:  # `seeds` is not empty, so a seed was trained or read
    raise RuntimeError("run_experiment: no seed was trained or read.")
  curves = np.stack(seed_curves)
  summary = results.summarize(curves, env_steps, checkpoints)
  out = ExperimentResult(
    env_steps=env_steps,
    curves=curves,
    summary=summary,
    parameter_counts=counts,
    compile_seconds=compile_s,
    steps_per_second=train_steps / train_s if train_s > 0 else float("nan"),
  )
  if out_dir and folder is not None:
    results.write_json(
      os.path.join(out_dir, "summary.json"),
      {
        "config": dataclasses.asdict(config),
        "seeds": seeds,
        "summary": summary,
        "parameter_counts": counts,
        "compile_seconds": compile_s,
        "steps_per_second": out.steps_per_second,
      },
    )
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
      f.write(
        f"# {label}\n\n{len(seeds)} seeds; mean episodic return +- 2 standard errors "
        "(worst-decile cumulative mean in brackets)\n\n"
      )
      f.write(results.markdown_summary({ppo_config.network: summary}))
    results.plot_curves(
      os.path.join(out_dir, "curves.png"), {ppo_config.network: curves}, env_steps, title=label
    )
    folder.finish()
  return out


def save_model(model, path: str) -> None:
  """Saves `model` in the Keras format (a zip, whatever `path`'s thread). Keras 2.15 keeps its
  format switch per thread and a save in a thread other than the main one leaves it off, so
  the thread's next `model.save("x.keras")` would write HDF5 under a `.keras` name;
  "keras_v3" asks for the Keras format whatever the switch says."""
  model.save(path, save_format="keras_v3")


def _seed_csv(folder: Optional[runs.RunFolder], seed: int) -> str:
  """The CSV of a finished seed (only a run folder holds finished seeds)."""
  if folder is None:
    raise RuntimeError(f"run_experiment: seed {seed} is finished but there is no run folder.")
  return folder.seed_csv(seed)


def vectorizes(config, num_seeds: int, vectorize: Optional[bool] = None) -> bool:
  """Whether `run_experiment` / `train_seeds` train `num_seeds` seeds of `config` as one
  vectorised program: a `PPOConfig` or a `DynaConfig`, with more than one seed, unless
  `vectorize=False`."""
  return (
    _vectorizable(config)
    and num_seeds > 0
    and (vectorize if vectorize is not None else num_seeds > 1)
  )


def lone_programs(config, seed_batch: Optional[int] = None) -> bool:
  """Whether seeds of `config` that `run_experiment` / `train_seeds` would vectorise train
  instead each as its own lone program (`PPO.train(seed)`, exactly the lone run), as many
  at once as there are lanes: for a `PPOConfig` with groups of one seed (`seed_batch=1`), or
  with no `seed_batch` while XLA's newer CPU runtime compiles the programs
  (`tf_equirl.compilation.runtime_enabled`) and no GPU is visible. That runtime runs one
  seed's program faster than the classic one, but the seed axis' batched
  products much more slowly, so on a CPU it trains many seeds fastest as one program per
  seed on each core (results/ppo_throughput/seeds.md). A `DynaConfig` is always vectorised."""
  if not isinstance(config, PPOConfig):
    return False
  if seed_batch is not None:
    return seed_batch == 1
  return compilation.runtime_enabled() and not tf.config.list_physical_devices("GPU")


class _LonePrograms:
  """A lane of `run_experiment` (the interface of `SeedBatchPPO` that `_train_vectorized`
  uses) whose groups are single seeds, each trained as its lone run by this lane's own
  `PPO` agent (its own compiled program): `lone_programs`."""

  seed_batch = 1

  def __init__(self, config: PPOConfig, seeds: Sequence[int]):
    self.config = config
    self.seeds = list(seeds)
    self._agent = PPO(config)
    self._last: Optional[int] = None

  def parameter_counts(self) -> Dict[str, int]:
    return self._agent.parameter_counts()

  def train_group(
    self, group: Sequence[int], callback: Optional[Callable[[int, Dict[str, np.ndarray]], None]]
  ) -> List[Union[TrainResult, runs.TrainingDiverged]]:
    """Trains the one seed index in `group`; returns `[its TrainResult]`, or `[the
    TrainingDiverged error]` as `SeedBatchPPO.train_group` does."""
    if len(group) != 1 or not 0 <= group[0] < len(self.seeds):
      raise ValueError(
        f"lone programs train one seed index in [0, {len(self.seeds)}) at a time, "
        f"received {list(group)!r}."
      )
    (k,) = group
    self._last = k

    def each(metrics):
      if callback is not None:
        callback(k, metrics)

    try:
      return [self._agent.train(callback=each, seed=self.seeds[k])]
    except runs.TrainingDiverged as error:
      return [error]

  def _model(self, k: int, model):
    if k != self._last:
      raise ValueError(
        f"the lane holds the weights of seed index {self._last}, not {k}: save a seed's "
        "models right after its group."
      )
    return model

  def actor_model(self, k: int):
    return self._model(k, self._agent.actor_model)

  def critic_model(self, k: int):
    return self._model(k, self._agent.critic_model)


def _vectorizable(config) -> bool:
  return isinstance(config, PPOConfig) or dyna_seed_batch.supports(config)


def _seed_batch(config: AgentConfig, seeds: Sequence[int], seed_batch: Optional[int]):
  """The seed-vectorised trainer of `config`: `SeedBatchPPO` or `SeedBatchDyna`."""
  if isinstance(config, DynaConfig):
    return dyna_seed_batch.SeedBatchDyna(config, seeds, seed_batch=seed_batch)
  return SeedBatchPPO(config, seeds, seed_batch=seed_batch)


def check_seed_batch(seed_batch: Optional[int], num_seeds: int) -> None:
  """Raises a ValueError unless `seed_batch` is None or an integer in [1, `num_seeds`]."""
  if seed_batch is None:
    return
  if (
    isinstance(seed_batch, bool)
    or not isinstance(seed_batch, (int, np.integer))
    or not 1 <= seed_batch <= num_seeds
  ):
    raise ValueError(
      f"seed_batch must be an integer from 1 to the number of seeds "
      f"({num_seeds}), received {seed_batch!r}."
    )


DEFAULT_GROUP_SEEDS = 4
"""The largest seed group `default_seed_batch` makes for a `PPOConfig`."""


def default_seed_batch(config: AgentConfig, num_seeds: int) -> int:
  """The seeds a vectorised program trains at once when no `seed_batch` is given.

  The seeds are shared evenly between groups of at most `DEFAULT_GROUP_SEEDS` (small enough
  for per-seed products, the fastest form on a CPU, see
  `tf_equirl.agents.ppo.seed_batch.SPLIT_PRODUCTS_MAX_SEEDS`; and several groups to run at
  once from five seeds on). The size depends on the number of seeds only, never on the
  machine or on `config` (PPO or Dyna): the seed axis changes how XLA sums, so a seed's curve
  would otherwise depend on the cores it ran on.
  """
  del config  # the same groups for every agent
  if num_seeds < 1:
    raise ValueError(f"default_seed_batch needs at least one seed, received {num_seeds}.")
  groups = -(-num_seeds // DEFAULT_GROUP_SEEDS)
  return -(-num_seeds // groups)


def check_concurrent_groups(concurrent_groups: Optional[int]) -> None:
  """Raises a ValueError unless `concurrent_groups` is None or a positive integer."""
  check_lane_count(
    concurrent_groups,
    "concurrent_groups",
    "seed groups trained at once",
    "one per CPU core",
  )


def _train_vectorized(
  lanes: Sequence[Any],  # SeedBatchPPOs, SeedBatchDynas or _LonePrograms
  folder: Optional[runs.RunFolder],
  out_dir: Optional[str],
  tensorboard: bool,
  save_models: bool,
  bar,
):
  """Trains `lanes[0].seeds` group by group (`seed_batch` seeds per program run), as many
  groups at once as there are lanes (trainers of the same config and seeds, `run_lanes`),
  writing each group's CSVs, TensorBoard scalars and models as soon as the group finishes.

  Returns `(curves {seed: mean_return}, compile_seconds, train_seconds, steps trained after
  compilation, env_steps)`; with several lanes, train seconds are the wall time after the
  first compilation and the steps every seed's.

  Raises:
    tf_equirl.runs.TrainingDiverged: the first seed of a group that diverged (after the
      group's other seeds are written and the folder is marked failed).
  """
  agent = lanes[0]
  cfg = agent.config
  seeds = agent.seeds
  writers: Dict[int, Callable] = {}
  done = {k: 0 for k in range(len(seeds))}
  curves: Dict[int, np.ndarray] = {}
  totals: Dict[str, float] = {"compile": -1.0, "train": 0.0, "steps": 0}
  env_steps: List[np.ndarray] = []
  outputs = threading.RLock()  # writers, the bar, the files: one lane at a time
  stop = threading.Event()
  start = time.perf_counter()

  def callback(k, metrics):
    if stop.is_set():
      raise Stopped()
    with outputs:
      n = len(metrics["mean_return"])
      if out_dir and tensorboard and k not in writers:
        writers[k] = _scalar_writer(
          tf.summary.create_file_writer(os.path.join(out_dir, "tb", f"seed_{seeds[k]}"))
        )
      if k in writers:  # between compiled calls: no summary op in the XLA graph
        steps = (done[k] + np.arange(1, n + 1, dtype=np.int64)) * cfg.batch_size
        writers[k](steps, {name: np.asarray(v, np.float32) for name, v in metrics.items()})
      done[k] += n
      if bar is not None:
        bar.update(n * cfg.batch_size)
        elapsed = time.perf_counter() - start
        bar.set_postfix(
          seed=seeds[k],
          ret=f"{metrics['mean_return'][-1]:.3g}",
          sps=f"{sum(done.values()) * cfg.batch_size / max(elapsed, 1e-9):,.0f}",
        )

  def run_group(lane, group):
    entries = lane.train_group(group, callback)
    with outputs:
      failed = None
      for k, entry in zip(group, entries):
        seed = seeds[k]
        if isinstance(entry, runs.TrainingDiverged):
          failed = failed or (seed, entry)
          continue
        if totals["compile"] < 0:
          totals["compile"] = entry.compile_seconds
        curves[seed] = entry.mean_return
        env_steps[:] = [entry.env_steps]
        totals["steps"] += int(entry.env_steps[-1] - entry.compile_steps)
        if out_dir and folder is not None:
          results.write_seed_csv(folder.seed_csv(seed), seed_columns(entry))
          if save_models:
            os.makedirs(os.path.join(out_dir, f"seed_{seed}"), exist_ok=True)
            save_model(lane.actor_model(k), os.path.join(out_dir, f"seed_{seed}", "actor.keras"))
            save_model(lane.critic_model(k), os.path.join(out_dir, f"seed_{seed}", "critic.keras"))
            if isinstance(lane, dyna_seed_batch.SeedBatchDyna) and lane.online:
              path = os.path.join(out_dir, f"seed_{seed}", "world_model.keras")
              world = lane.world_model(k)
              if world is not None:  # online: always a learned kind
                save_model(world, path)
          folder.finish_seed(seed)
      ok = [e for e in entries if not isinstance(e, runs.TrainingDiverged)]
      if ok:
        totals["train"] += ok[0].train_seconds  # one program run for the whole group
      for k in group:
        writers.pop(k, None)  # its events are flushed when the writer is released
      if failed is not None:  # the other running groups finish (`run_lanes`)
        seed, error = failed
        if folder is not None:
          folder.fail(error, seed, getattr(error, "columns", None))
        raise error

  groups = [
    list(range(first, min(first + agent.seed_batch, len(seeds))))
    for first in range(0, len(seeds), agent.seed_batch)
  ]
  try:
    run_lanes(lanes, groups, run_group, abort=stop)
  except runs.TrainingDiverged:
    if bar is not None:
      bar.close()
    raise
  finally:
    stop.set()
  compile_s = max(totals["compile"], 0.0)
  train_s = float(totals["train"])
  train_steps = int(totals["steps"])
  if len(lanes) > 1 and curves:  # groups overlapped: the wall time after compilation
    train_s = max(time.perf_counter() - start - compile_s, 1e-9)
    train_steps = int(sum(len(c) for c in curves.values()) * cfg.batch_size)
  return curves, compile_s, train_s, train_steps, (env_steps[0] if env_steps else None)


def resume_experiment(
  config: AgentConfig, seeds: Sequence[int], out_dir: str, **kwargs: Any
) -> ExperimentResult:
  """`run_experiment` that reuses what `out_dir` already holds of this configuration (finished
  seeds, checkpoints). A folder of runs without a run record (made by an older version of
  the library) is trained again; one holding another configuration is refused."""
  older = (
    os.path.isdir(out_dir) and bool(os.listdir(out_dir)) and not runs.holds_run_record(out_dir)
  )
  if older:
    print(
      f"{out_dir} holds runs without a run record (an older version of tf_equirl): "
      "training again",
      flush=True,
    )
  return run_experiment(config, seeds, out_dir, resume=not older, overwrite=older, **kwargs)


@dataclasses.dataclass(frozen=True)
class Arm:
  """One trained configuration of a many-seed comparison.

  `name` names its runs folder and its column; `agent` groups arms for reports (an actor
  kind for PPO tables; "baseline", "dyna" or "equi_dyna" for Dyna tables); `config` is a
  `PPOConfig` or a `DynaConfig`."""

  name: str
  agent: str
  config: AgentConfig
  planning_ratio: Optional[float] = None


def arm_folder(runs_dir: str, arm: Union[Arm, str]) -> str:
  """The run folder of `arm` (an `Arm` or its name) under `runs_dir`: its name with
  characters other than letters, digits, '_', '.' and '-' replaced by '_'
  (`"gcnn@C4:invariant"` -> `"gcnn_C4_invariant"`)."""
  name = arm if isinstance(arm, str) else arm.name
  return os.path.join(runs_dir, re.sub(r"[^\w.-]", "_", name))


def run_arms(
  arms: Sequence[Arm],
  seeds: Sequence[int],
  runs_dir: str,
  resume: bool = True,
  progress: bool = True,
) -> Dict[str, Tuple[np.ndarray, np.ndarray, dict]]:
  """Trains every arm for every seed in this process (one compiled graph per arm);
  `{name: (env_steps, curves [seeds, iterations], parameter_counts)}`. Finished arms are
  reused with `resume`. (`tf_equirl.sweeps.run_arms_on_ray` runs them as Ray Tune trials.)
  """
  out = {}
  for arm in arms:
    folder = arm_folder(runs_dir, arm)
    done = runs.load_finished_run(folder, arm.config, seeds) if resume else None
    if done is None:
      # Finished seeds of the same config and code are reused, others trained (`run.json`);
      # a folder holding another configuration is refused (RunFolderError).
      kwargs: Dict[str, Any] = dict(progress=progress, tensorboard=False, save_models=False)
      result = (
        resume_experiment(arm.config, seeds, folder, **kwargs)
        if resume
        else run_experiment(arm.config, seeds, folder, overwrite=True, **kwargs)
      )
      done = (result.env_steps, result.curves, result.parameter_counts)
    else:
      print(f"{arm.name}: reusing the finished runs in {folder}", flush=True)
    out[arm.name] = done
  return out


def build_agent(config: AgentConfig) -> Tuple[Union[PPO, Dyna], AgentConfig, PPOConfig]:
  """`(agent, config, ppo_config)`: PPO for a `PPOConfig`, the Dyna driver for a `DynaConfig`.

  Raises:
    ValueError: `config` is neither.
  """
  if isinstance(config, PPOConfig):
    return PPO(config), config, config
  if isinstance(config, DynaConfig):
    return Dyna(config), config, config.ppo
  raise ValueError(
    "run_experiment expects a PPOConfig or a DynaConfig, received " f"{type(config).__name__}."
  )


def seed_columns(result: TrainResult) -> Dict[str, np.ndarray]:
  """The per-iteration columns of one seed's run, as `seed_<k>.csv` holds them (Dyna adds
  the planned steps and planning metrics beside the real-step columns)."""
  return {
    "env_steps": result.env_steps,
    "mean_return": result.mean_return,
    "episodes": result.episodes,
    "finished_return": result.finished_return,
    **result.losses,
    **result.extras,
  }


def train_seeds(
  config: AgentConfig,
  seeds: Sequence[int],
  report: Optional[Callable[[int, Dict[str, np.ndarray]], None]] = None,
  vectorize: Optional[bool] = None,
  seed_batch: Optional[int] = None,
) -> Iterator[Tuple[int, Dict[str, np.ndarray]]]:
  """Trains `config` (a `PPOConfig` or a `DynaConfig`) once per seed, yielding each seed's
  columns.

  The same runs as `run_experiment` (and so `launchers.train_ppo` / `train_dyna`), without
  its files: several seeds of a `PPOConfig` or a `DynaConfig` run as one vectorised program
  (`seed_batch` at a time; `vectorize=False`: one after another in one compiled graph).
  `report(seed, rows)`
  is called after every compiled call with that call's per-iteration values (e.g. for Ray
  Tune, `tf_equirl.sweeps`). The learner is built on the first seed, so a generator whose
  seeds are all done elsewhere compiles nothing.
  """
  seeds = list(seeds)
  check_seed_batch(seed_batch, max(len(seeds), 1))
  if vectorizes(config, len(seeds), vectorize) and not lone_programs(config, seed_batch):
    batch = _seed_batch(config, seeds, seed_batch or default_seed_batch(config, len(seeds)))
    iterations_done = {k: 0 for k in range(len(seeds))}

    def batch_callback(k, metrics):
      n = len(metrics["mean_return"])
      steps = (iterations_done[k] + np.arange(1, n + 1)) * batch.config.batch_size
      iterations_done[k] += n
      if report is not None:
        report(seeds[k], {"env_steps": steps, **metrics})

    for first in range(0, len(seeds), batch.seed_batch):
      group = list(range(first, min(first + batch.seed_batch, len(seeds))))
      entries = batch.train_group(group, batch_callback if report is not None else None)
      for k, entry in zip(group, entries):
        if isinstance(entry, runs.TrainingDiverged):
          raise entry
        yield seeds[k], seed_columns(entry)
    return
  agent = None
  for seed in seeds:
    if agent is None:
      agent, _, ppo_config = build_agent(config)
    done = [0]

    def callback(metrics, seed=seed, done=done, batch=ppo_config.batch_size):
      k = len(metrics["mean_return"])
      steps = (done[0] + np.arange(1, k + 1)) * batch
      done[0] += k
      report(seed, {"env_steps": steps, **metrics})

    result = agent.train(callback=callback if report is not None else None, seed=seed)
    yield seed, seed_columns(result)


def _prepare_outputs(write_scalars) -> None:
  """Imports matplotlib and traces `write_scalars` (if any) for the per-call metrics, so
  neither waits for the first results."""
  results.pyplot()
  if write_scalars is not None:
    write_scalars.get_concrete_function(
      tf.TensorSpec([None], tf.int64), {name: tf.TensorSpec([None], tf.float32) for name in METRICS}
    )


def _scalar_writer(writer):
  """`write(steps [k], {name: values [k]})`: TensorBoard scalars `ppo/<name>` (non-finite
  values skipped) in one graph call, about 13x less CPU than a `tf.summary.scalar` call per
  value (about 8,000 values in a 500k-step CartPole run)."""

  def write(steps, metrics):
    with writer.as_default():

      def body(i):
        def scalar(name, value):
          with tf.compat.v1.get_default_graph().name_scope(None):  # tag "ppo/<name>", unscoped
            return tf.summary.scalar(f"ppo/{name}", value, step=steps[i])

        ops = [
          tf.cond(
            tf.math.is_finite(values[i]),
            lambda name=name, values=values: scalar(name, values[i]),
            lambda: tf.constant(False),
          )
          for name, values in metrics.items()
        ]
        with tf.control_dependencies(ops):
          return i + 1

      return tf.while_loop(lambda i: i < tf.shape(steps)[0], body, [tf.constant(0)])

  return tf.function(write, autograph=False, reduce_retracing=True)


def _progress_bar(enabled: bool, total: int, config: PPOConfig):
  if not enabled:
    return None
  from tqdm import tqdm

  return tqdm(
    total=total,
    unit="step",
    unit_scale=True,
    dynamic_ncols=True,
    desc=f"{config.env}/{config.network}",
    mininterval=0.5,
  )
