"""Runs of the actor-critic agent over seeds into a run folder (`launchers.train_ac`).

The seeds train one after another with one agent (one compiled graph: each seed only resets
weights, optimisers, replay and environments). The folder is a `tf_equirl.runs.RunFolder`, as
PPO's: `run.json` with the config and each finished seed's fingerprint, `seed_<k>.csv`
(evaluation return and training metrics against env steps), `seed_<k>/actor.keras` and
`critic.keras`, and `summary.json` (the final evaluation return over seeds).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from tf_equirl import results, runs
from tf_equirl.agents.ac.config import ACConfig
from tf_equirl.agents.ac.learner import AC, ACResult
from tf_equirl.agents.ac.pixels import make_agent

__all__ = ["ACExperimentResult", "run_ac_experiment"]

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

  @property
  def summary(self) -> Dict[str, float]:
    """Mean and two standard errors of the final evaluation return over seeds."""
    mean, two_se = results.mean_and_2se(self.curves[:, -1])
    return {"env_steps": int(self.env_steps[-1]), "final_return": mean, "final_2se": two_se}


def _check_finite(result: ACResult, agent: AC, seed: int) -> None:
  """`TrainingDiverged` if a training call's metric, an evaluation or a weight is non-finite."""
  metrics = {k: v[1:] for k, v in result.metrics.items()}
  metrics["eval_return"] = result.eval_return[1:]
  variables = agent.actor.variables + agent.critic.variables
  runs.check_finite(metrics, variables, seed, 0, agent.config.eval_every, _MAY_BE_NAN)


def run_ac_experiment(
  config: ACConfig,
  seeds: Sequence[int],
  out_dir: Optional[str] = None,
  save_models: bool = True,
  resume: bool = False,
  overwrite: bool = False,
  callback: Optional[Callable[[int, int, float], None]] = None,
) -> ACExperimentResult:
  """Trains `config` once per seed, one seed after another.

  Args:
    config: an `ACConfig`.
    seeds: distinct non-negative seeds.
    out_dir: run folder (see the module docstring); None writes nothing.
    save_models: write each seed's actor and critic as `.keras`.
    resume: reuse the finished seeds of this configuration's run in `out_dir`.
    overwrite: replace the run `out_dir` holds.
    callback: `callback(seed, env_steps, eval_return)` after every evaluation.

  Returns:
    An `ACExperimentResult`.

  Raises:
    ValueError: no seeds or a repeated seed.
    tf_equirl.runs.RunFolderError: `out_dir` cannot take this run.
    tf_equirl.runs.TrainingDiverged: a seed's training produced a non-finite value (the
      folder is marked failed).
  """
  seeds = [int(s) for s in seeds]
  if not seeds:
    raise ValueError("run_ac_experiment needs at least one seed.")
  if len(set(seeds)) != len(seeds):
    raise ValueError(f"run_ac_experiment: duplicate seeds in {seeds}; each seed runs once.")
  folder = runs.RunFolder(out_dir, config, seeds, resume, overwrite) if out_dir else None
  agent = make_agent(config)
  if folder is not None:
    folder.start()
  curves, compile_s, train_s, trained_steps = {}, float("nan"), 0.0, 0
  for seed in seeds:
    if folder is not None and folder.is_finished(seed):
      curves[seed] = results.read_seed_csv(folder.seed_csv(seed))["eval_return"]
      continue
    report = None if callback is None else (lambda s, r, m, seed=seed: callback(seed, s, r))
    result = agent.train(seed=seed, callback=report)
    try:
      _check_finite(result, agent, seed)
    except runs.TrainingDiverged as error:
      if folder is not None:
        folder.fail(error, seed, result.columns())
      raise
    if np.isnan(compile_s):
      compile_s = result.compile_seconds
    train_s += result.train_seconds
    trained_steps += (len(result.env_steps) - 2) * config.eval_every
    curves[seed] = result.eval_return
    if folder is not None:
      results.write_seed_csv(folder.seed_csv(seed), result.columns())
      if save_models:
        os.makedirs(os.path.join(folder.out, f"seed_{seed}"), exist_ok=True)
        agent.actor.save(os.path.join(folder.out, f"seed_{seed}", "actor.keras"))
        agent.critic.save(os.path.join(folder.out, f"seed_{seed}", "critic.keras"))
      folder.finish_seed(seed)
  env_steps = np.arange(config.total_steps // config.eval_every + 1) * config.eval_every
  out = ACExperimentResult(
    seeds=seeds,
    env_steps=env_steps,
    curves=np.stack([np.asarray(curves[s], np.float64) for s in seeds]),
    parameter_counts=agent.parameter_counts(),
    compile_seconds=compile_s,
    steps_per_second=trained_steps / train_s if train_s > 0 else float("nan"),
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
