"""One PRAE run from a config: collect, train, plan, lift, evaluate, and write its files.

1. Collect `num_episodes` (training) and `num_validation_episodes` random-policy episodes
   (`tf_equirl.models.collect_episodes`, seeds `2 seed` and `2 seed + 1`).
2. Build the `PRAEModel` (weights seeded by `seed`) and train it (`PRAETrainer`).
3. Build the abstract MDP over prototypes of the training observations and plan on it.
4. Evaluate the lifted policy on `eval_episodes` episodes of the environment.

Files written into `out` (when given): `history.csv` (per epoch: each loss term, the loss,
Hits@1 and MRR on the training batches and, prefixed `val_`, on the validation episodes),
`summary.json` (returns, final Hits@1 / MRR, the final training and validation losses,
sizes, seconds, the command), `model.keras` (the
`PRAEModel`) and `plan.npz` (prototypes, rewards, values, Q-values).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from tf_equirl import envs, results
from tf_equirl.models.data import collect_episodes
from tf_equirl.prae.config import PRAEConfig
from tf_equirl.prae.losses import objective_terms
from tf_equirl.prae.networks import (
  PRAEModel,
  build_decoder,
  build_encoder,
  build_reward,
  build_transition,
)
from tf_equirl.prae.planning import AbstractMDP, Plan, build_abstract_mdp
from tf_equirl.prae.policy import LiftedPolicy, evaluate_lifted
from tf_equirl.prae.training import PRAETrainer

from tensorflow import keras

__all__ = [
  "PRAERun",
  "build_model",
  "collect_data",
  "env_kwargs",
  "plan_and_evaluate",
  "train_prae",
]


@dataclasses.dataclass
class PRAERun:
  """Everything a run produced.

  Attributes:
    model: the trained `PRAEModel`.
    history: one row per epoch (see `PRAETrainer.fit`).
    mdp: the `AbstractMDP`.
    plan: its `Plan`.
    policy: the `LiftedPolicy`.
    returns: episodic returns of the lifted policy `[eval_episodes]`.
    summary: what `summary.json` holds.
  """

  model: PRAEModel
  history: List[Dict[str, float]]
  mdp: AbstractMDP
  plan: Plan
  policy: LiftedPolicy
  returns: np.ndarray
  summary: Dict[str, Any]


def build_model(config: PRAEConfig, env) -> PRAEModel:
  """The `PRAEModel` of `config` for `env` (weights from Keras' global seed); with
  `config.objective="autoencoder"`, with a decoder (`config.decoder_hidden`, default the
  encoder's widths reversed)."""
  state_dim = int(np.prod(env.observation_spec().shape))
  encoder = build_encoder(
    config.encoder,
    state_dim,
    config.latent_dim,
    config.encoder_hidden,
    symmetry=env.symmetry if config.encoder != "mlp" else None,
    init=config.init,
  )
  symmetry = env.symmetry if config.equivariant else None
  transition = build_transition(
    config.latent_dim, env.num_actions, config.action_hidden, symmetry=symmetry, init=config.init
  )
  reward = build_reward(
    config.latent_dim, config.reward_hidden, symmetry=symmetry, init=config.init
  )
  suffix = "_equivariant" if config.equivariant else ""
  decoder = None
  if config.objective == "autoencoder":
    hidden = config.decoder_hidden or tuple(reversed(config.encoder_hidden))
    decoder = build_decoder(config.latent_dim, state_dim, hidden, init=config.init)
    suffix += "_autoencoder"
  return PRAEModel(encoder, transition, reward, decoder, name=f"prae_{config.encoder}{suffix}")


def env_kwargs(config: PRAEConfig) -> Dict[str, Any]:
  """The `envs.make` keyword arguments of `config` (the step limit where set)."""
  if config.max_episode_steps is None:
    return {}
  return {"max_episode_steps": config.max_episode_steps}


def _flat(data: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  return {k: (v.reshape(len(v), -1) if k in ("obs", "next_obs") else v) for k, v in data.items()}


def collect_data(config: PRAEConfig, env) -> Tuple[Dict[str, np.ndarray], Optional[Dict]]:
  """Random-policy training and validation episodes of `config` (seeds `2 seed`, `2 seed +
  1`), observations flattened; with `config.data_actions`, the training transitions keep
  only those actions (their episodes stay contiguous)."""
  train = _flat(collect_episodes(env, config.num_episodes, seed=2 * config.seed))
  if config.data_actions is not None:
    keep = np.isin(train["action"], config.data_actions)
    train = {k: v[keep] for k, v in train.items()}
  validation = None
  if config.num_validation_episodes:
    validation = _flat(
      collect_episodes(env, config.num_validation_episodes, seed=2 * config.seed + 1)
    )
  return train, validation


def plan_and_evaluate(
  model: PRAEModel,
  observations: np.ndarray,
  config: PRAEConfig,
  env: Any,
  goal: Optional[Any] = None,
  eval_kwargs: Optional[Dict[str, Any]] = None,
) -> Tuple[AbstractMDP, Plan, LiftedPolicy, np.ndarray]:
  """Abstract MDP over prototypes of `observations`, its plan, the lifted policy and its
  returns on `config.eval_episodes` episodes.

  Args:
    model: the trained `PRAEModel`.
    observations: the states the prototypes are drawn from.
    config: the run's `PRAEConfig` (prototypes, tau, gamma, reward, sweeps, folding).
    env: the environment (its symmetry folds the prototypes).
    goal: the goal observation (default `config.goal`).
    eval_kwargs: extra `envs.make` arguments of the evaluation (e.g. a KeyRoom door), on top
      of the step limit.
  """
  mdp = build_abstract_mdp(
    model,
    observations,
    config.num_prototypes,
    config.tau,
    config.gamma,
    config.reward,
    config.goal if goal is None else goal,
    config.seed,
    symmetry=env.symmetry if config.fold_prototypes else None,
  )
  plan = mdp.plan(config.sweeps)
  policy = LiftedPolicy(model, mdp, plan)
  returns = evaluate_lifted(
    policy,
    config.env_name,
    config.eval_episodes,
    seed=config.seed,
    env_kwargs=dict(env_kwargs(config), **(eval_kwargs or {})),
  )
  return mdp, plan, policy, returns


def train_prae(
  config: Optional[PRAEConfig] = None,
  out: Optional[str] = None,
  progress: bool = False,
  command: str = "",
) -> PRAERun:
  """Runs the whole method (see the module docstring) and writes its files into `out`.

  Raises:
    ValueError: an unknown environment, or a goal of the wrong width.
  """
  config = config if config is not None else PRAEConfig()
  if config.env_name not in envs.list_envs():
    raise ValueError(
      f"PRAEConfig.env_name: unknown environment {config.env_name!r}; expected one of "
      f"{envs.list_envs()}."
    )
  start = time.time()
  try:
    env = envs.make(config.env_name, batch_size=1, **env_kwargs(config))
  except TypeError as error:
    raise ValueError(
      f"PRAEConfig.max_episode_steps: {config.env_name} takes no step limit ({error})."
    ) from error
  state_dim = int(np.prod(env.observation_spec().shape))
  if config.goal is not None and len(config.goal) != state_dim:
    raise ValueError(
      f"PRAEConfig.goal has {len(config.goal)} entries; {config.env_name} observations have "
      f"{state_dim}."
    )
  train, validation = collect_data(config, env)
  keras.utils.set_random_seed(config.seed)
  model = build_model(config, env)
  history = PRAETrainer(model, train, config).fit(validation, progress=progress)
  train_seconds = time.time() - start
  mdp, plan, policy, returns = plan_and_evaluate(model, train["obs"], config, env)
  final = history[-1]
  summary = {
    "env": config.env_name,
    "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(config).items()},
    "params": int(model.count_params()),
    "train_transitions": int(len(train["action"])),
    "validation_transitions": 0 if validation is None else int(len(validation["action"])),
    "prototypes": int(mdp.prototypes.shape[0]),
    "return_mean": float(np.mean(returns)),
    "return_std": float(np.std(returns)),
    "return_min": float(np.min(returns)),
    "return_max": float(np.max(returns)),
    "returns": [float(r) for r in returns],
    "hits_at_1": final["hits_at_1"],
    "mrr": final["mrr"],
    "val_hits_at_1": final.get("val_hits_at_1"),
    "val_mrr": final.get("val_mrr"),
    "final_loss": {k: final[k] for k in (*objective_terms(config.objective), "loss")},
    "val_loss": final.get("val_loss"),
    "final_val_loss": (
      {k: final[f"val_{k}"] for k in (*objective_terms(config.objective), "loss")}
      if validation is not None
      else None
    ),
    "train_seconds": round(train_seconds, 1),
    "seconds": round(time.time() - start, 1),
    "command": command,
  }
  if out:
    os.makedirs(out, exist_ok=True)
    results.write_seed_csv(
      os.path.join(out, "history.csv"), {k: [r[k] for r in history] for k in history[0]}
    )
    results.write_json(os.path.join(out, "summary.json"), summary)
    model.save(os.path.join(out, "model.keras"))
    np.savez_compressed(
      os.path.join(out, "plan.npz"),
      prototypes=mdp.prototypes,
      rewards=mdp.rewards,
      values=plan.values,
      q_values=plan.q_values,
    )
  return PRAERun(model, history, mdp, plan, policy, returns, summary)
