"""PPO and Supervised-Dyna beside PRAE, at the real transitions of PRAE's data.

PRAE plans from a fixed set of random-policy episodes. The baselines of the PRAE study
(`tf_equirl.experiments.prae_study`) get at most as many real transitions as the smallest
of that budget's data sets over the seeds, counted in whole iterations of their agents:

* `ppo`: PPO with the environment's settings (the thesis' where it has them) and an MLP
  actor-critic (`default_config(env, network="mlp", critic="mlp")`), trained for
  `floor(n_min / B) B` real steps, `n_min` the fewest transitions of any seed's PRAE data and
  `B` PPO's iteration (`num_envs x num_steps`), one iteration at least.
* `supervised_dyna`: the thesis' supervised Dyna (Alg. 6) with Equi-Dyna's world model, a
  G-CNN with proximal pooling (`world_model="gcnn_proximal"`). The world model learns from
  the first half of the seed's PRAE training episodes (the same random transitions PRAE
  sees), for `dyna_model_epochs` epochs; Dyna then acts for the rest of the budget,
  `floor((n - m)_min / B) B` real steps (`m` the half's transitions, `B` Dyna's acting
  iteration, one iteration at least), and plans `planned_steps` steps in the model in all
  (the environment's PPO budget by default: CartPole 500,000, Catch 20,000). Dyna cannot
  plan without acting, so the data is split rather than used twice.

Each seed's trained actor is then evaluated greedily on the PRAE row's evaluation
(`eval_episodes` episodes, the task's step limit, e.g. CartPole-v0's 200). A row records its
return and the real transitions it used (`real_steps`).

Where a budget is smaller than one iteration (a quick run's 10 episodes), the baseline gets
that one iteration: more real transitions than PRAE, which `real_steps` shows.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["BASELINES", "BASELINE_TASKS", "BaselineRun", "baseline_budget", "run_baseline"]

BASELINES = ("ppo", "supervised_dyna")
# Tasks each baseline runs on. KeyRoom is goal-conditioned (a door per episode): a PPO
# agent would need the door as an input, so neither runs there. The grid world has no
# transition model (`envs.defaults.TRANSITION_ENVS`), so Supervised-Dyna skips it.
BASELINE_TASKS: Mapping[str, Tuple[str, ...]] = {
  "ppo": ("CartPole-v0", "Catch-v0", "GridWorld-v0"),
  "supervised_dyna": ("CartPole-v0", "Catch-v0"),
}


@dataclasses.dataclass(frozen=True)
class BaselineRun:
  """What a baseline's row depends on (its saved runs are reused only for the same)."""

  task: str
  budget: int
  name: str
  seeds: int  # the budget is the smallest data over these seeds
  eval_episodes: int
  planned_steps: Optional[int]
  model_epochs: Optional[int]

  @classmethod
  def of(cls, study, task: str, budget: int, name: str) -> "BaselineRun":
    """The `BaselineRun` of `name` on `task` at `budget` episodes in `study`."""
    dyna = name == "supervised_dyna"
    return cls(
      task=task,
      budget=int(budget),
      name=name,
      seeds=int(study.seeds),
      eval_episodes=int(study.eval_episodes),
      planned_steps=study.dyna_planned_steps if dyna else None,
      model_epochs=study.dyna_model_epochs if dyna else None,
    )


def _whole_iterations(steps: int, batch: int) -> int:
  return max(1, int(steps) // int(batch)) * int(batch)


def baseline_budget(
  name: str, transitions: Sequence[int], half_transitions: Sequence[int], batch: int
) -> int:
  """Real steps the baseline `name` acts for, given each seed's PRAE training transitions
  (`transitions`), the transitions of the first half of its episodes (`half_transitions`,
  Supervised-Dyna's model data) and the agent's iteration `batch`."""
  if name not in BASELINES:
    raise ValueError(f"Unknown PRAE baseline {name!r}; expected one of {BASELINES}.")
  if name == "ppo":
    return _whole_iterations(min(transitions), batch)
  rest = min(int(n) - int(m) for n, m in zip(transitions, half_transitions))
  return _whole_iterations(rest, batch)


def _data(config) -> Dict[str, np.ndarray]:
  """The training episodes of the PRAE run `config` (a `PRAEConfig`)."""
  from tf_equirl import envs  # pylint: disable=import-outside-toplevel
  from tf_equirl.prae import collect_data, env_kwargs  # pylint: disable=import-outside-toplevel

  env = envs.make(config.env_name, batch_size=1, **env_kwargs(config))
  return collect_data(config, env)[0]


def _first_half(train: Dict[str, np.ndarray], budget: int) -> Dict[str, np.ndarray]:
  keep = train["episode"] < max(1, int(budget) // 2)
  return {k: v[keep] for k, v in train.items()}


def _evaluate(actor_path: str, config) -> float:
  from tensorflow import keras  # pylint: disable=import-outside-toplevel

  from tf_equirl import evaluation  # pylint: disable=import-outside-toplevel
  from tf_equirl.prae import env_kwargs  # pylint: disable=import-outside-toplevel

  actor = keras.models.load_model(actor_path)
  returns = evaluation.evaluate_tf(
    actor,
    config.env_name,
    config.eval_episodes,
    greedy=True,
    seed=config.seed,
    env_kwargs=env_kwargs(config),
  )
  return float(np.mean(returns))


def run_baseline(
  study, task: str, budget: int, name: str, folder: str, configs: Sequence[Any]
) -> List[Dict[str, Any]]:
  """Trains the baseline `name` on `task` for every seed of `study` at the real transitions
  of the `budget`-episode PRAE data (module docstring); returns one row per seed
  (`return`, `real_steps`). `configs` are the PRAE runs' `PRAEConfig`s, one per seed
  (`prae_study.task_config`): their data and evaluation settings. Trained runs go under
  `folder` and are resumed from there."""
  from tf_equirl import runner  # pylint: disable=import-outside-toplevel
  from tf_equirl.agents.dyna import default_dyna_config  # pylint: disable=import-outside-toplevel
  from tf_equirl.agents.ppo import default_config  # pylint: disable=import-outside-toplevel

  if task not in BASELINE_TASKS.get(name, ()):
    raise ValueError(
      f"The PRAE baseline {name!r} runs on {BASELINE_TASKS.get(name, ())}, not {task!r}."
    )
  seeds = [int(c.seed) for c in configs]
  trains = [_data(config) for config in configs]
  env_name = configs[0].env_name
  transitions = [len(train["action"]) for train in trains]
  halves = [_first_half(train, budget) for train in trains]
  if name == "ppo":
    ppo = default_config(env_name, network="mlp", critic="mlp")
    steps = baseline_budget(name, transitions, [0] * len(seeds), ppo.batch_size)
    ppo = default_config(env_name, network="mlp", critic="mlp", total_steps=steps)
    runner.run_experiment(
      ppo, seeds, out_dir=folder, progress=False, tensorboard=False, resume=True
    )
    return [
      {
        "return": _evaluate(os.path.join(folder, f"seed_{s}", "actor.keras"), c),
        "real_steps": steps,
      }
      for s, c in zip(seeds, configs)
    ]
  probe = default_dyna_config(env_name)
  acting = baseline_budget(
    name, transitions, [len(h["action"]) for h in halves], probe.ppo.batch_size
  )
  planned = study.dyna_planned_steps or default_config(env_name).total_steps
  rows = []
  for seed, config, half in zip(seeds, configs, halves):
    seed_folder = os.path.join(folder, f"seed_{seed}")
    model_path = _train_world_model(study, env_name, half, seed, seed_folder)
    dyna = default_dyna_config(
      env_name,
      ppo_overrides=dict(total_steps=acting),
      mode="supervised",
      world_model="gcnn_proximal",
      world_model_path=model_path,
      dyna_iterations=acting // probe.ppo.batch_size,
      planning_ratio=planned / acting,
    )
    runner.run_experiment(
      dyna,
      [seed],
      out_dir=os.path.join(seed_folder, "dyna"),
      progress=False,
      tensorboard=False,
      resume=True,
    )
    actor = os.path.join(seed_folder, "dyna", f"seed_{seed}", "actor.keras")
    rows.append({"return": _evaluate(actor, config), "real_steps": acting + len(half["action"])})
  return rows


def _train_world_model(study, env_name: str, data, seed: int, folder: str) -> str:
  """Equi-Dyna's world model trained on `data` (kept in `folder`); returns its path."""
  path = os.path.join(folder, "world_model.keras")
  if os.path.exists(path):
    return path
  from tensorflow import keras  # pylint: disable=import-outside-toplevel

  from tf_equirl import envs, runner  # pylint: disable=import-outside-toplevel
  from tf_equirl.agents.dyna import build_world_model, default_dyna_config  # pylint: disable=import-outside-toplevel
  from tf_equirl.models import TrainConfig, TransitionSpec, TransitionTrainer  # pylint: disable=import-outside-toplevel

  spec = TransitionSpec.for_env(envs.make(env_name, batch_size=1))
  keras.utils.set_random_seed(seed)
  model = build_world_model("gcnn_proximal", spec)
  epochs = study.dyna_model_epochs or default_dyna_config(env_name).epochs
  batch = min(64, len(data["action"]))  # thesis Table 5.5: 64
  TransitionTrainer(model, spec, TrainConfig(epochs=epochs, batch_size=batch, seed=seed)).fit(data)
  os.makedirs(folder, exist_ok=True)
  # Written whole, then renamed: an interrupted save leaves no file to be reused.
  partial = os.path.join(folder, f"world_model.partial{os.getpid()}.keras")
  runner.save_model(model, partial)
  os.replace(partial, path)
  return path
