"""Runs of the actor-critic agent over seeds into a run folder (`launchers.train_ac`).

The seeds train one after another with one agent (one compiled graph: each seed only resets
weights, optimisers, replay and environments), or with `seed_batch` that many at a time as one
vectorised program (`tf_equirl.agents.ac.seed_batch.SeedBatchAC`), each group written as it
finishes. The folder is a `tf_equirl.runs.RunFolder`, as
PPO's: `run.json` with the config and each finished seed's fingerprint, `seed_<k>.csv`
(evaluation return and training metrics against env steps), `seed_<k>_final.json` (the
per-episode returns of the final evaluation, clean and under test-time observation noise),
`seed_<k>/actor.keras` and `critic.keras`, and `summary.json` (the last periodic evaluation
and the final evaluation over seeds, and the best policy over the runs).

The best policy over runs (the seed's protocol, Park et al. 2025, 5.1) is the seed whose last
periodic evaluation is highest; its final evaluation (`final_episodes` fresh episodes) is
what the study reports, so the pick and the reported number come from different episodes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import results, runs
from tf_equirl.agents.ac.config import ACConfig
from tf_equirl.agents.ac.learner import AC, ACResult
from tf_equirl.agents.ac.factory import make_agent
from tf_equirl.agents.ac.seed_batch import SeedBatchAC
from tf_equirl.lanes import Stopped, check_lane_count, default_lanes, run_lanes

__all__ = [
  "ACExperimentResult",
  "check_concurrent_seeds",
  "run_ac_experiment",
  "train_ac_seeds",
]

# Metrics that are NaN by definition in some calls (no episode finished, no update yet).
_MAY_BE_NAN = ("train_return", "critic_loss", "actor_loss", "q_mean")


@dataclasses.dataclass
class ACExperimentResult:
  """Curves of every seed: `curves[i]` are seed `seeds[i]`'s evaluation returns at `env_steps`."""

  seeds: List[int]
  env_steps: np.ndarray
  curves: np.ndarray  # [seeds, points]
  parameter_counts: Dict[str, int]
  compile_seconds: float  # the first seed's first call (later seeds reuse the graph)
  steps_per_second: float  # env steps per second after compilation, over the trained seeds
  # [seeds, final_episodes] per-episode returns of the final evaluation (clean, and under
  # test-time observation noise); [seeds, 0] when skipped.
  final_returns: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros([0, 0]))
  final_noisy_returns: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros([0, 0]))

  @property
  def best(self) -> Dict[str, float]:
    """The best policy over the runs: the seed with the highest last periodic evaluation,
    and the mean of its final evaluation, clean and noisy (nan when skipped)."""
    i = int(np.argmax(self.curves[:, -1]))
    mean = lambda x: float(np.mean(x[i])) if x.size else float("nan")  # noqa: E731
    return {
      "seed": self.seeds[i],
      "last_eval": float(self.curves[i, -1]),
      "final": mean(self.final_returns),
      "final_noisy": mean(self.final_noisy_returns),
    }

  @property
  def summary(self) -> Dict[str, float]:
    """Mean and two standard errors over seeds of the last periodic evaluation
    (`final_return`, `final_2se`) and of each seed's mean final evaluation (`final_eval`,
    `final_eval_2se`, `final_noisy`, `final_noisy_2se`; nan when skipped), and the best
    policy (`best_*`)."""
    mean, two_se = results.mean_and_2se(self.curves[:, -1])
    out = {"env_steps": int(self.env_steps[-1]), "final_return": mean, "final_2se": two_se}
    finals = (("final_eval", self.final_returns), ("final_noisy", self.final_noisy_returns))
    for name, values in finals:
      m, s = results.mean_and_2se(values.mean(axis=1)) if values.size else (np.nan, np.nan)
      out[name], out[f"{name}_2se"] = float(m), float(s)
    out.update({f"best_{k}": v for k, v in self.best.items()})
    return out


def _final_path(out_dir: str, seed: int) -> str:
  return os.path.join(out_dir, f"seed_{seed}_final.json")


def _check_finite(result: ACResult, agent: AC, seed: int) -> None:
  """`TrainingDiverged` if a training call's metric, an evaluation or a weight is non-finite."""
  metrics = {k: v[1:] for k, v in result.metrics.items()}
  metrics["eval_return"] = result.eval_return[1:]
  runs.check_finite(metrics, agent.trained_variables, seed, 0, agent.config.eval_every, _MAY_BE_NAN)


def check_concurrent_seeds(concurrent_seeds: Optional[int]) -> None:
  """Raises a ValueError unless `concurrent_seeds` is None or a positive integer."""
  check_lane_count(
    concurrent_seeds,
    "concurrent_seeds",
    "seeds trained at once",
    "one per CPU core for state observations under XLA",
  )


def _concurrent_by_default(config: ACConfig) -> bool:
  """Whether seeds train at once without being asked: state observations (a pixel agent's
  replay holds frames, and several would multiply its memory) on an environment XLA compiles
  (dm_control's physics steps in Python, under the interpreter lock)."""
  return config.observation == "state" and config.jit_compile


def run_ac_experiment(
  config: ACConfig,
  seeds: Sequence[int],
  out_dir: Optional[str] = None,
  save_models: bool = True,
  resume: bool = False,
  overwrite: bool = False,
  callback: Optional[Callable[[int, int, float], None]] = None,
  env: Optional[Any] = None,
  seed_batch: Optional[int] = None,
  concurrent_seeds: Optional[int] = None,
  on_seed_trained: Optional[Callable[[int, Any, Any, str], None]] = None,
) -> ACExperimentResult:
  """Trains `config` once per seed: `concurrent_seeds` seeds at once, each in its own agent
  (its own compiled graph) and thread (`tf_equirl.lanes`), or with `seed_batch`
  `seed_batch` seeds at a time as one vectorised program (`SeedBatchAC`, equal to the
  separate runs up to float rounding).

  XLA's CPU backend runs one seed's graph mostly on one core: on two cores, two agents at
  once trained Pendulum seeds 1.4 (mlp) to 1.6 (gcnn) times as fast as one agent, whole runs
  with compilation included (`benchmarks/seed_batch.py --ac --concurrent_seeds=2`,
  docs/many_seeds.md). A seed's run is the same whatever trains beside it.

  Args:
    config: an `ACConfig`.
    seeds: distinct non-negative seeds.
    out_dir: run folder (see the module docstring); None writes nothing.
    save_models: write each seed's actor and critic as `.keras`.
    resume: reuse the finished seeds of this configuration's run in `out_dir`.
    overwrite: replace the run `out_dir` holds.
    callback: `callback(seed, env_steps, eval_return)` after every evaluation.
    env: the environment `AC` trains on (default `envs.make(config.env)`).
    seed_batch: seeds per vectorised program (state observations on environments made of
      TensorFlow ops); None trains each seed in its own agent.
    concurrent_seeds: agents that train at once, each taking the next seed; None: one per
      CPU core this process may use (`tf_equirl.lanes.default_lanes`) for state
      observations under XLA, else one. Ignored with `seed_batch`, and one where `env` is
      given (the agents would share it).
    on_seed_trained: `on_seed_trained(seed, actor, critic, out_dir)` after each seed that
      trains here, once its files are written and before it is recorded as finished (so a
      seed is finished only with what this writes; one seed at a time). Needs `out_dir`.

  Returns:
    An `ACExperimentResult`.

  Raises:
    ValueError: no seeds, a repeated seed, or `concurrent_seeds` not a positive integer.
    tf_equirl.runs.RunFolderError: `out_dir` cannot take this run.
    tf_equirl.runs.TrainingDiverged: a seed's training produced a non-finite value (the
      folder is marked failed; the seeds training beside it finish and are kept, and no
      seed starts after it).
  """
  seeds = [int(s) for s in seeds]
  if not seeds:
    raise ValueError("run_ac_experiment needs at least one seed.")
  if len(set(seeds)) != len(seeds):
    raise ValueError(f"run_ac_experiment: duplicate seeds in {seeds}; each seed runs once.")
  check_concurrent_seeds(concurrent_seeds)
  if on_seed_trained is not None and not out_dir:
    raise ValueError("run_ac_experiment: on_seed_trained needs an out_dir to write beside.")
  folder = runs.RunFolder(out_dir, config, seeds, resume, overwrite) if out_dir else None
  todo = [s for s in seeds if folder is None or not folder.is_finished(s)]
  batch = SeedBatchAC(config, todo, seed_batch, env) if seed_batch is not None and todo else None
  agent = batch.agent if batch is not None else make_agent(config, env)
  num_lanes = 1
  if batch is None and env is None:
    num_lanes = min(
      concurrent_seeds or (default_lanes() if _concurrent_by_default(config) else 1),
      max(len(todo), 1),
    )
  agents = [agent] + [make_agent(config) for _ in range(num_lanes - 1)]
  if folder is not None:
    folder.start()
  curves, finals = {}, {}
  totals = {"compile": float("nan"), "train": 0.0, "steps": 0}
  for seed in seeds:
    if folder is not None and folder.is_finished(seed):
      curves[seed] = results.read_seed_csv(folder.seed_csv(seed))["eval_return"]
      with open(_final_path(folder.out, seed), encoding="utf-8") as f:
        saved = json.load(f)
      finals[seed] = (np.asarray(saved["clean"]), np.asarray(saved["noisy"]))
  outputs = threading.RLock()  # the files, the totals and the callback: one seed at a time

  def record(trained_by: AC, seed: int, result: ACResult, train_seconds: float) -> None:
    """Checks one trained seed and writes its files (with `outputs` held)."""
    try:
      _check_finite(result, trained_by, seed)
    except runs.TrainingDiverged as error:
      if folder is not None:
        folder.fail(error, seed, result.columns())
      raise
    if np.isnan(totals["compile"]):
      totals["compile"] = result.compile_seconds
    totals["train"] += train_seconds
    totals["steps"] += (len(result.env_steps) - 2) * config.eval_every
    curves[seed] = result.eval_return
    finals[seed] = (result.final_returns, result.final_noisy_returns)
    if folder is None:
      return
    results.write_seed_csv(folder.seed_csv(seed), result.columns())
    results.write_json(
      _final_path(folder.out, seed),
      {
        "episodes": config.final_episodes,
        "obs_noise": config.final_obs_noise,
        "clean": result.final_returns.tolist(),
        "noisy": result.final_noisy_returns.tolist(),
      },
    )
    if save_models:
      os.makedirs(os.path.join(folder.out, f"seed_{seed}"), exist_ok=True)
      trained_by.actor.save(os.path.join(folder.out, f"seed_{seed}", "actor.keras"))
      trained_by.critic.save(os.path.join(folder.out, f"seed_{seed}", "critic.keras"))
    if on_seed_trained is not None:
      on_seed_trained(seed, trained_by.actor, trained_by.critic, folder.out)
    folder.finish_seed(seed)

  if batch is None:
    abort = threading.Event()
    start = time.perf_counter()

    def run_seed(lane: AC, group: List[int]) -> None:
      seed = group[0]

      def report(steps, value, metrics):
        if abort.is_set():
          raise Stopped()
        if callback is not None:
          with outputs:
            callback(seed, steps, value)

      result = lane.train(seed=seed, callback=report)
      with outputs:
        record(lane, seed, result, result.train_seconds)

    run_lanes(agents, [[s] for s in todo], run_seed, abort)
    if num_lanes > 1 and todo:  # seeds overlapped: the wall time after the first compilation
      totals["train"] = max(time.perf_counter() - start - totals["compile"], 1e-9)
  else:
    pending: Dict[int, ACResult] = {}
    for k, seed in enumerate(todo):
      if seed not in pending:  # the next group of the vectorised seeds
        group = list(range(k, min(k + batch.seed_batch, len(todo))))
        report_k = None if callback is None else (lambda i, s, r, m: callback(todo[i], s, r))
        trained = batch.train_group(group, report_k)
        pending.update(zip((todo[i] for i in group), trained))
        totals["train"] += trained[0].train_seconds  # the group's program, once
      record(batch.load(k), seed, pending.pop(seed), 0.0)
  compile_s, train_s, trained_steps = totals["compile"], totals["train"], totals["steps"]
  env_steps = np.arange(config.total_steps // config.eval_every + 1) * config.eval_every
  out = ACExperimentResult(
    seeds=seeds,
    env_steps=env_steps,
    curves=np.stack([np.asarray(curves[s], np.float64) for s in seeds]),
    parameter_counts=agent.parameter_counts(),
    compile_seconds=compile_s,
    steps_per_second=trained_steps / train_s if train_s > 0 else float("nan"),
    final_returns=np.stack([np.asarray(finals[s][0], np.float64) for s in seeds]),
    final_noisy_returns=np.stack([np.asarray(finals[s][1], np.float64) for s in seeds]),
  )
  if folder is not None:
    results.write_json(
      os.path.join(folder.out, "summary.json"),
      dict(
        out.summary,
        network=config.network,
        env=config.env,
        seeds=seeds,
        parameters=out.parameter_counts,
      ),
    )
    folder.finish()
  return out


def _sweep_columns(result_columns: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  columns = dict(result_columns)
  columns["mean_return"] = columns["eval_return"]
  return columns


def train_ac_seeds(
  config: ACConfig,
  seeds: Sequence[int],
  report: Optional[Callable[[int, Dict[str, np.ndarray]], None]] = None,
  env: Optional[Any] = None,
) -> Iterator[Tuple[int, Dict[str, np.ndarray]]]:
  """Trains `config` once per seed in one agent (one compiled graph) and yields `(seed,
  columns)` as each finishes, without files: what a sweep trial runs (`tf_equirl.sweeps`).

  The columns are the run folder's CSV columns (`ACResult.columns`: `env_steps` from 0,
  `eval_return`, the training metrics) and `mean_return`, the same values as `eval_return`,
  which a sweep summarises. `report(seed, rows)` is called after every evaluation with that
  evaluation's row (each column as a one-element array).

  Raises:
    ValueError: no seeds or a repeated seed.
    tf_equirl.runs.TrainingDiverged: a seed's training produced a non-finite value.
  """
  seeds = [int(s) for s in seeds]
  if not seeds:
    raise ValueError("train_ac_seeds needs at least one seed.")
  if len(set(seeds)) != len(seeds):
    raise ValueError(f"train_ac_seeds: duplicate seeds in {seeds}; each seed runs once.")
  agent = make_agent(config, env)
  for seed in seeds:
    callback = None
    if report is not None:

      def callback(steps, value, metrics, seed=seed):
        row = {"env_steps": steps, "eval_return": value, **metrics}
        report(seed, _sweep_columns({k: np.asarray([v]) for k, v in row.items()}))

    result = agent.train(seed=seed, callback=callback)
    _check_finite(result, agent, seed)
    yield seed, _sweep_columns(result.columns())
