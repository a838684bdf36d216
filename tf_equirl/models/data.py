"""Transition datasets: collection inside compiled loops, the .npz format, and tf.data.

Format. One `.npz` file per split (`joint`, `left`, `random`, `validation`) under
`data/transitions/<env>/seed_<seed>/`, each with equally long arrays:

* `obs` float32 `[N, d]`, `action` int32 `[N]`, `next_obs` float32 `[N, d]`,
* `reward` float32 `[N]`, `terminated` bool `[N]` (the episode ended by the task's rule;
  losses mask these, eq. 4.30/4.32), `expert` bool `[N]` (collected by the expert policy).

`collect_episodes` gives whole episodes instead, with an `episode` array (the episode of
each transition; not part of the saved `.npz` format) for learners that need to know which
transitions share an episode (`tf_equirl.prae` draws its negatives from the same episode).

The environments follow tf-agents' auto-reset: the step after a LAST step only resets and
ignores its action. Those reset steps are not transitions of the MDP and are dropped; a
truncated (time-limit) transition is kept with `terminated=False`.

Splits (thesis 4.7.5.2): `joint` = half expert, half uniform-random transitions; `left` =
`joint` with only action 0 kept; `random` = uniform-random transitions; `validation` =
half expert, half random, from seeds no training split uses.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import TYPE_CHECKING, Any, Dict, Optional

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_agents.trajectories import time_step as ts

from tf_equirl import rng

if TYPE_CHECKING:
  from tf_equirl.envs.base import BatchedEnvironment

__all__ = [
  "FIELDS",
  "DATASETS",
  "DataConfig",
  "collect_transitions",
  "collect_episodes",
  "make_datasets",
  "save_split",
  "load_split",
  "as_tf_dataset",
  "dataset_dir",
]

FIELDS = ("obs", "action", "next_obs", "reward", "terminated", "expert")
DATASETS = ("joint", "left", "random")
SPLITS = DATASETS + ("validation",)
# Distinct stream ids folded into the seed, so no two collections share random numbers.
_STREAMS = {
  "joint_expert": 1,
  "joint_random": 2,
  "random": 3,
  "validation_expert": 4,
  "validation_random": 5,
}


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Sizes of the transition datasets.

  Attributes:
    num_transitions: size of `joint` and of `random` (thesis: 40,000 CartPole, 400,000
      Catch); `left` keeps the action-0 part of `joint` (about half).
    num_validation: size of the shared validation set (half expert, half random).
    num_envs: environments stepped together in the compiled collection loop.
    greedy_expert: act with the expert's argmax instead of sampling from its logits.
  """

  num_transitions: int = 40_000
  num_validation: int = 10_000
  num_envs: int = 64
  greedy_expert: bool = False

  def __post_init__(self):
    for name in ("num_transitions", "num_validation", "num_envs"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f"DataConfig: {name} must be an integer >= 2, received {value!r}.")


def dataset_dir(root: str, env_name: str, seed: int) -> str:
  return os.path.join(root, "transitions", env_name, f"seed_{seed}")


def _check_dataset_name(name: str) -> None:
  if name not in SPLITS:
    raise ValueError(f"Unknown transition dataset {name!r}; expected one of {SPLITS}.")


def collect_transitions(
  env, actor, num_transitions: int, seed: int, num_envs: int = 64, greedy: bool = False, _run=None
) -> Dict[str, np.ndarray]:
  """`num_transitions` real transitions of `env` under `actor` (a logits model) or, with
  `actor=None`, the uniform random policy; collected in one `tf.function(jit_compile=True)`
  while-loop per chunk. Reset steps are dropped (see the module docstring)."""
  if (
    isinstance(num_transitions, bool) or not isinstance(num_transitions, int) or num_transitions < 1
  ):
    raise ValueError(
      "collect_transitions: num_transitions must be a positive integer, "
      f"received {num_transitions!r}."
    )
  n_actions = env.num_actions
  out: Dict[str, list] = {k: [] for k in FIELDS}
  have, chunk = 0, 0
  run = _run or _collector(env, actor, num_envs, greedy)
  while have < num_transitions:
    # Resets cost at most one step in two (Catch: one in ten): over-collect a little.
    steps = int(np.ceil(1.25 * (num_transitions - have) / num_envs)) + 2
    key = tf.constant([seed, chunk], tf.int64)
    obs, action, next_obs, reward, terminated, valid, _ = (
      t.numpy() for t in run(key, tf.constant(steps))
    )
    keep = valid.reshape(-1)
    for name, arr in (
      ("obs", obs),
      ("action", action),
      ("next_obs", next_obs),
      ("reward", reward),
      ("terminated", terminated),
    ):
      out[name].append(arr.reshape((-1,) + arr.shape[2:])[keep])
    have += int(keep.sum())
    chunk += 1
  data = {k: np.concatenate(v)[:num_transitions] for k, v in out.items() if v}
  data["expert"] = np.full(num_transitions, actor is not None)
  if np.any(data["action"] < 0) or np.any(data["action"] >= n_actions):
    raise RuntimeError(
      "collect_transitions produced invalid actions; the actor's logits "
      "must have one entry per action."
    )
  return data


def collect_episodes(
  env: Any,
  num_episodes: int,
  seed: int,
  actor: Optional[Any] = None,
  num_envs: int = 128,
  greedy: bool = False,
) -> Dict[str, np.ndarray]:
  """`num_episodes` whole episodes of `env` under `actor` (a logits model) or, with
  `actor=None`, the uniform random policy, with the episode of every transition.

  Each of `min(num_envs, num_episodes)` environments plays its first `k` episodes (`k` the
  episodes each must give) in one compiled loop long enough for `k` episodes of the
  environment's step limit, and the first `num_episodes` in the order (episode number,
  environment) are kept. Which episodes are kept does not depend on their lengths, so the
  episodes are independent draws (a fixed transition budget would cut the last ones short).

  Args:
    env: a tf_equirl environment with a step limit (`env.max_episode_steps`).
    num_episodes: how many episodes (>= 1).
    seed: integer seed of the collection.
    actor: None (uniform random actions) or a Keras logits model.
    num_envs: environments stepped together (at most).
    greedy: act with the actor's argmax instead of sampling from its logits.

  Returns:
    The arrays of `FIELDS` (`expert` is True where `actor` is given) plus `episode` int32
    `[N]` (0 .. num_episodes-1), sorted by episode and then by time: episode `e` is one
    contiguous run of rows whose last transition ended it (terminated or truncated).

  Raises:
    ValueError: a non-positive `num_episodes` or `num_envs`, or an environment without a
      step limit.
  """
  for name, value in (("num_episodes", num_episodes), ("num_envs", num_envs)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
      raise ValueError(f"collect_episodes: {name} must be a positive integer, received {value!r}.")
  if env.max_episode_steps is None:
    raise ValueError(
      f"collect_episodes needs an environment with a step limit; {env.name} has "
      "max_episode_steps=None."
    )
  num_envs = int(min(num_envs, num_episodes))
  per_env = -(-int(num_episodes) // num_envs)
  # An episode takes at most max_episode_steps steps plus the reset step that follows it.
  steps = per_env * (int(env.max_episode_steps) + 1)
  run = _collector(env, actor, num_envs, greedy)
  arrays = [t.numpy() for t in run(tf.constant([seed, 0], tf.int64), tf.constant(steps))]
  obs, action, next_obs, reward, terminated, valid, episode = arrays
  column = np.broadcast_to(np.arange(num_envs), valid.shape)
  keep = valid & (episode < per_env)
  # Rank (episode number, environment): the first num_episodes of that order are kept.
  rank = (episode * num_envs + column)[keep]
  time = np.broadcast_to(np.arange(steps)[:, None], valid.shape)[keep]
  order = np.lexsort((time, rank))
  rank = rank[order]
  chosen = rank < num_episodes
  data = {
    name: arr[keep][order][chosen]
    for name, arr in (
      ("obs", obs),
      ("action", action),
      ("next_obs", next_obs),
      ("reward", reward),
      ("terminated", terminated),
    )
  }
  _, data["episode"] = np.unique(rank[chosen], return_inverse=True)
  data["episode"] = data["episode"].astype(np.int32)
  data["expert"] = np.full(len(data["action"]), actor is not None)
  return data


def _collector(env, actor, num_envs: int, greedy: bool):
  n_actions = env.num_actions

  def policy(observation, seed):
    if actor is None:
      return rng.uniform([num_envs], seed, 0, n_actions, dtype=tf.int32)
    logits = actor(tf.reshape(observation, [num_envs, -1]))
    if greedy:
      return tf.argmax(logits, axis=1, output_type=tf.int32)
    # Gumbel-max sampling: XLA has no StatelessMultinomial kernel for int64 seeds.
    uniform = rng.uniform(tf.shape(logits), seed, minval=1e-12, maxval=1.0)
    return tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=1, output_type=tf.int32)

  @tf.function(jit_compile=True)
  def run(key, steps):
    state, time_step = env.pure_reset(rng.fold_in(key, -1), batch_size=num_envs)
    obs, per_env = time_step.observation.shape, tf.TensorShape([num_envs])
    spec = (
      (time_step.observation.dtype, obs),
      (tf.int32, per_env),
      (time_step.observation.dtype, obs),
      (tf.float32, per_env),
      (tf.bool, per_env),
      (tf.bool, per_env),
      (tf.int32, per_env),
    )
    # Known element shapes: XLA's bridge then compiles the loop body once, not twice.
    arrays = [tf.TensorArray(d, size=steps, element_shape=shape) for d, shape in spec]

    def body(t, state, observation, episode, arrays):
      action = policy(observation, rng.fold_in(key, tf.cast(t, tf.int64)))
      real = tf.logical_not(state.done)  # False: this step only resets the element
      # Episodes begun by each element before this step's transition (a reset step opens one).
      episode = episode + tf.cast(state.done, tf.int32)
      state, step = env.pure_step(state, action)
      terminated = tf.logical_and(
        tf.equal(step.step_type, ts.StepType.LAST), tf.equal(step.discount, 0.0)
      )
      values = (observation, action, step.observation, step.reward, terminated, real, episode)
      arrays = [a.write(t, v) for a, v in zip(arrays, values)]
      return t + 1, state, step.observation, episode, arrays

    _, _, _, _, arrays = tf.while_loop(
      lambda t, *_: t < steps,
      body,
      (tf.constant(0), state, time_step.observation, tf.zeros([num_envs], tf.int32), arrays),
    )
    return tuple(a.stack() for a in arrays)

  return run


def _concat(*parts):
  return {k: np.concatenate([p[k] for p in parts]) for k in FIELDS}


def make_datasets(
  env: BatchedEnvironment, expert: keras.Model, seed: int, config: Optional[DataConfig] = None
) -> Dict[str, Dict[str, np.ndarray]]:
  """`{"joint", "left", "random", "validation"}` for `env`, reproducible from `seed`.

  Args:
    env: a tf_equirl environment (its pure API is used; its own state is untouched).
    expert: the expert actor, a Keras model `[B, d] -> logits [B, num_actions]`.
    seed: integer seed of every collection (each split uses its own stream).
    config: the dataset sizes; None: `DataConfig()`.
  """
  config = config if config is not None else DataConfig()

  def key(stream):
    return seed * 16 + _STREAMS[stream]

  half, half_val = config.num_transitions // 2, config.num_validation // 2
  runs = {a: _collector(env, a, config.num_envs, config.greedy_expert) for a in (expert, None)}

  def collect(actor, n, stream):
    return collect_transitions(
      env, actor, n, key(stream), config.num_envs, config.greedy_expert, _run=runs[actor]
    )

  joint = _concat(
    collect(expert, half, "joint_expert"),
    collect(None, config.num_transitions - half, "joint_random"),
  )
  left = {k: v[joint["action"] == 0] for k, v in joint.items()}
  random = collect(None, config.num_transitions, "random")
  validation = _concat(
    collect(expert, half_val, "validation_expert"),
    collect(None, config.num_validation - half_val, "validation_random"),
  )
  return {"joint": joint, "left": left, "random": random, "validation": validation}


def save_split(directory: str, name: str, data: Dict[str, np.ndarray]) -> str:
  _check_dataset_name(name)
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, f"{name}.npz")
  np.savez_compressed(path, **{k: data[k] for k in FIELDS})
  return path


def load_split(directory: str, name: str) -> Dict[str, np.ndarray]:
  """Loads `<directory>/<name>.npz`.

  Raises:
    ValueError: for an unknown split name, a missing file (with the command that makes
      it), or a file without the expected arrays.
  """
  _check_dataset_name(name)
  path = os.path.join(directory, f"{name}.npz")
  if not os.path.exists(path):
    raise ValueError(
      f"No transition dataset at {path}; create it with "
      "`python -m launchers.make_transition_data --env=... --seed=...`."
    )
  with np.load(path) as f:
    missing = [k for k in FIELDS if k not in f]
    if missing:
      raise ValueError(f"{path} lacks the arrays {missing}; expected {FIELDS}.")
    return {k: f[k] for k in FIELDS}


def write_meta(directory: str, meta: dict) -> None:
  with open(os.path.join(directory, "meta.json"), "w") as f:
    json.dump(meta, f, indent=2, sort_keys=True)


def as_tf_dataset(
  data: Dict[str, np.ndarray],
  batch_size: int = 64,
  shuffle_seed: Optional[int] = 0,
  drop_remainder: bool = True,
) -> tf.data.Dataset:
  """Batches of `{"obs", "action", "next_obs", "terminated"}` (and `"reward"` where `data`
  has it), reshuffled every epoch.

    The arrays stay in memory; the pipeline shuffles indices and gathers whole batches,
    which is much cheaper than shuffling 400,000 rows one by one.
  """
  n = len(data["action"])
  if batch_size < 1 or (drop_remainder and n < batch_size):
    raise ValueError(
      f"as_tf_dataset: batch_size={batch_size} does not fit a dataset of {n} " "transitions."
    )
  tensors = {
    "obs": tf.constant(data["obs"], tf.float32),
    "action": tf.constant(data["action"], tf.int32),
    "next_obs": tf.constant(data["next_obs"], tf.float32),
    "terminated": tf.constant(data["terminated"], tf.bool),
  }
  if "reward" in data:
    tensors["reward"] = tf.constant(data["reward"], tf.float32)
  index = tf.data.Dataset.range(n)
  if shuffle_seed is not None:
    index = index.shuffle(n, seed=shuffle_seed, reshuffle_each_iteration=True)
  index = index.batch(batch_size, drop_remainder=drop_remainder)
  return index.map(
    lambda i: {k: tf.gather(v, i) for k, v in tensors.items()}, num_parallel_calls=tf.data.AUTOTUNE
  ).prefetch(tf.data.AUTOTUNE)
