"""An in-graph replay ring buffer of `tf.Variable`s with n-step sampling.

Transitions are stored time-major per environment, `[slots, num_envs, ...]`: agent step `t`
of environment `e` lives in slot `t % slots`, so a stored trajectory stays contiguous and
n-step returns are read from consecutive slots. Writing is a scatter into one slot and
sampling a gather of the sampled slots, straight from the variables: neither reads nor copies
the whole buffer, so adding and sampling cost the same at any capacity, inside an
XLA-compiled loop or a TensorFlow graph alike.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tf_equirl import rng

__all__ = ["NStepBatch", "Replay", "SeedReplay", "n_step_targets", "sample_arrays"]


class NStepBatch(NamedTuple):
  """A minibatch of n-step transitions (each field batch-major).

  Attributes:
    observation: `[B, d]` state the action was taken in.
    action: `[B, k]`.
    reward: `[B]` discounted sum of the rewards up to the bootstrap (or the episode's end).
    discount: `[B]` weight of the bootstrap value, `gamma^m * d` (`m` the steps summed, `d` the
      environment's discount at the last one: 0 where the episode terminated).
    next_observation: `[B, d]` state to bootstrap from.
  """

  observation: tf.Tensor
  action: tf.Tensor
  reward: tf.Tensor
  discount: tf.Tensor
  next_observation: tf.Tensor


def n_step_targets(
  reward: tf.Tensor, discount: tf.Tensor, ended: tf.Tensor, gamma: float
) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """n-step sums over `[B, n]` consecutive transitions of one environment.

  The sum stops at the first transition that ended an episode (terminated or truncated):
  `R = sum_{k <= m} gamma^k r_k`, bootstrapped from that transition's next state with weight
  `gamma^(m+1) d_m` (`d_m` 0 after a termination, 1 after a truncation), `m` the first `k`
  with `ended_k`, else `n - 1`.

  Args:
    reward: `[B, n]` float rewards.
    discount: `[B, n]` the environment's discounts (0 or 1).
    ended: `[B, n]` 1 where the transition ended its episode.
    gamma: discount per step.

  Returns:
    `(returns [B], bootstrap_discount [B], last [B] int32)`, `last` the `m` above.
  """
  n = int(reward.shape[1])
  stops = tf.concat([tf.cast(ended[:, :-1], tf.float32), tf.ones_like(reward[:, :1])], axis=1)
  last = tf.argmax(tf.cast(stops > 0, tf.int32), axis=1, output_type=tf.int32)  # first stop
  steps = tf.range(n, dtype=tf.int32)
  powers = tf.constant(gamma ** np.arange(n + 1), tf.float32)
  mask = tf.cast(steps[None, :] <= last[:, None], tf.float32)
  returns = tf.reduce_sum(mask * powers[None, :n] * reward, axis=1)
  bootstrap = tf.gather(powers, last + 1) * tf.gather(discount, last, axis=1, batch_dims=1)
  return returns, bootstrap, last


class Replay:
  """Ring buffer of `slots` agent steps of `num_envs` environments, as `tf.Variable`s.

  Args:
    slots: agent steps kept per environment (the oldest is overwritten first).
    num_envs: environments written at every step.
    observation_dim: length of a (flat) observation.
    action_dim: length of an action vector.
  """

  def __init__(self, slots: int, num_envs: int, observation_dim: int, action_dim: int):
    self.slots, self.num_envs = int(slots), int(num_envs)
    shape = [self.slots, self.num_envs]

    def var(name, trailing=()):
      return tf.Variable(tf.zeros(shape + list(trailing)), trainable=False, name=name)

    self.observation = var("observation", [observation_dim])
    self.action = var("action", [action_dim])
    self.reward = var("reward")
    self.discount = var("discount")
    self.ended = var("ended")
    self.next_observation = var("next_observation", [observation_dim])
    self.count = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="count")

  @property
  def fields(self):
    return (
      self.observation,
      self.action,
      self.reward,
      self.discount,
      self.ended,
      self.next_observation,
    )

  def clear(self) -> None:
    """Empties the buffer (contents zeroed, so that runs from one seed match bit for bit)."""
    for v in self.fields:
      v.assign(tf.zeros_like(v))
    self.count.assign(0)

  def add(self, observation, action, reward, discount, ended, next_observation):
    """Writes one agent step of every environment (each argument `[num_envs, ...]`) into slot
    `count % slots`; returns the op that advances `count`."""
    slot = tf.reshape(tf.math.floormod(self.count, self.slots), [1, 1])
    values = (observation, action, reward, discount, ended, next_observation)
    writes = [
      var.scatter_nd_update(slot, tf.cast(value, var.dtype)[None])
      for var, value in zip(self.fields, values)
    ]
    with tf.control_dependencies(writes):
      return self.count.assign_add(1)

  def size(self) -> tf.Tensor:
    """Agent steps held per environment (int64)."""
    return tf.minimum(self.count, self.slots)

  def sample(self, key, batch_size: int, n_step: int, gamma: float) -> NStepBatch:
    """`batch_size` n-step transitions, uniformly over the starts whose `n_step` transitions
    are all held (`count - slots <= t <= count - n_step`); needs `count >= n_step`."""

    # Gathers of the sampled slots straight from each variable (`sparse_read`, which XLA
    # compiles too). A read of the whole variable would be copied by TensorFlow's graph
    # executor at the next write while the read is alive: a cost that grows with capacity.
    def gather(field: int, index: tf.Tensor) -> tf.Tensor:
      rows = self.fields[field].sparse_read(index[:, 0])  # [B, num_envs, ...]
      return tf.gather(rows, index[:, 1], axis=1, batch_dims=1)

    return _sample(gather, self.slots, self.num_envs, self.count, key, batch_size, n_step, gamma)


def sample_arrays(
  arrays: Sequence[tf.Tensor], count, key, batch_size: int, n_step: int, gamma: float
) -> NStepBatch:
  """`Replay.sample` from the buffer's contents as tensors: `arrays` are its `fields`' values
  (`[slots, num_envs, ...]` each, in the order of `Replay.fields`) and `count` its agent
  steps written. A pure function, so a seed axis can vectorise it (`SeedReplay`)."""
  slots, num_envs = int(arrays[2].shape[0]), int(arrays[2].shape[1])
  return _sample(
    lambda field, index: tf.gather_nd(arrays[field], index),
    slots,
    num_envs,
    count,
    key,
    batch_size,
    n_step,
    gamma,
  )


def _sample(
  gather, slots: int, num_envs: int, count, key, batch_size: int, n_step: int, gamma: float
) -> NStepBatch:
  """The sampling of `Replay.sample`, reading the buffer through `gather(field, index)`: the
  entries `[slot, env]` of `index` (`[B, 2]` int64) of field `field` (`Replay.fields`'
  order)."""
  observation, action, reward, discount, ended, next_observation = range(6)
  lo = tf.maximum(count - slots, 0)
  num = count - n_step - lo + 1
  u = rng.uniform([batch_size], rng.fold_in(key, 0), dtype=tf.float32)
  start = lo + tf.minimum(tf.cast(tf.floor(u * tf.cast(num, tf.float32)), tf.int64), num - 1)
  env_u = rng.uniform([batch_size], rng.fold_in(key, 1), dtype=tf.float32)
  env = tf.minimum(tf.cast(tf.floor(env_u * num_envs), tf.int64), num_envs - 1)

  def index(offset):
    slot = tf.math.floormod(start + offset, slots)
    return tf.stack([slot, env], axis=1)

  windows = [index(k) for k in range(n_step)]
  steps = lambda field: tf.stack([gather(field, w) for w in windows], axis=1)  # noqa: E731
  returns, bootstrap, last = n_step_targets(steps(reward), steps(discount), steps(ended), gamma)
  first = windows[0]
  return NStepBatch(
    observation=gather(observation, first),
    action=gather(action, first),
    reward=returns,
    discount=bootstrap,
    next_observation=gather(next_observation, index(tf.cast(last, tf.int64))),
  )


class SeedReplay:
  """`Replay` with a leading seed axis: `seeds` ring buffers `[seeds, slots, num_envs, ...]`
  written together (the seeds of a program step in lockstep, so they share `count`), each
  sampled by `sample_arrays` on its own slice (`arrays()`) inside a vectorised function.

  Args:
    seeds: buffers kept side by side.
    slots: agent steps kept per environment, as `Replay`'s.
    num_envs: environments written at every step, per seed.
    observation_dim: length of a (flat) observation.
    action_dim: length of an action vector.
  """

  def __init__(self, seeds: int, slots: int, num_envs: int, observation_dim: int, action_dim: int):
    self.seeds, self.slots, self.num_envs = int(seeds), int(slots), int(num_envs)
    shape = [self.seeds, self.slots, self.num_envs]

    def var(name, trailing=()):
      return tf.Variable(tf.zeros(shape + list(trailing)), trainable=False, name=name)

    self.fields = (
      var("seeds_observation", [observation_dim]),
      var("seeds_action", [action_dim]),
      var("seeds_reward"),
      var("seeds_discount"),
      var("seeds_ended"),
      var("seeds_next_observation", [observation_dim]),
    )
    self.count = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="seeds_count")

  def clear(self) -> None:
    for v in self.fields:
      v.assign(tf.zeros_like(v))
    self.count.assign(0)

  def add(self, observation, action, reward, discount, ended, next_observation):
    """Writes one agent step of every seed's environments (each argument `[seeds,
    num_envs, ...]`) into slot `count % slots`; returns the op that advances `count`."""
    slot = tf.math.floormod(self.count, self.slots)
    index = tf.stack([tf.range(self.seeds, dtype=tf.int64), tf.fill([self.seeds], slot)], axis=1)
    values = (observation, action, reward, discount, ended, next_observation)
    writes = [
      var.scatter_nd_update(index, tf.cast(value, var.dtype))
      for var, value in zip(self.fields, values)
    ]
    with tf.control_dependencies(writes):
      return self.count.assign_add(1)

  def arrays(self) -> Tuple[tf.Tensor, ...]:
    """The buffers' contents, `[seeds, slots, num_envs, ...]` each (`Replay.fields`' order)."""
    return tuple(v.value() for v in self.fields)
