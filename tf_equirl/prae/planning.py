"""The abstract MDP of a trained PRAE, and value iteration on it.

Abstract MDP (reference: ElisevanderPol/PRAE `prae/runner.py` `make_model`,
`prae/helpers.py` `get_transitions`, `prae/evaluator.py` `plan`):

* States: prototypes `x_1 .. x_N`, the encodings of `num_prototypes` training observations
  chosen without replacement by a stateless permutation of the seed (all of them where the
  data has fewer); the reference takes the first 1,024 encoded states of a shuffled epoch,
  the same kind of uniform draw. With `reward="goal"` the encoded goal observation is
  appended as the last prototype (prototypes equal to it are dropped first, as the
  reference's `prune_duplicate_goal` does).
* Transitions: `T[a, i, j] = softmax_j(-||x_i + A(x_i, a) - x_j||^2 / (2 tau))`.
* Rewards: `reward="goal"`: 1 at the goal prototype, 0 elsewhere, for every action (the
  reference's CartPole planning); `reward="learned"`: `R(x_i + A(x_i, a))`, the reward model
  read where it was trained, on the predicted next latent (the reference's unused
  `get_rewards` reads it on `x_i` itself).
* Folding by the group (`symmetry=`, `PRAEConfig.fold_prototypes`): for an equivariant
  PRAE (`T(rho(g) z, pi(g) a) = rho(g) T(z, a)`, invariant rewards) the abstract MDP is
  built on the quotient of the latent space by the group. Each prototype stands for its
  orbit `{rho(g) x_j}`, and the transitions measure the distance to the nearest orbit point,
  `T[a, i, j] = softmax_j(-min_g ||x_i + A(x_i, a) - rho(g) x_j||^2 / (2 tau))`: well
  defined, since another representative `rho(h) x_i` with action `pi(h) a` lands at
  `rho(h)` of the same point. N prototypes then cover `|G| N` points of the latent space;
  the lifted policy acts in a state near `rho(g) x_j` with `Q(x_j, pi(g)^-1 a)`
  (`tf_equirl.prae.policy`). The goal reward must be invariant (the encoded goal's orbit is
  rewarded).
* Value iteration: `Q_k(i, a) = R[a, i] + gamma sum_j T[a, i, j] V_{k-1}(j)`,
  `V_k = max_a Q_k`, `V_0 = 0`, `sweeps` sweeps in one compiled `tf.while_loop`; returns
  `Q_sweeps` and `V_sweeps` (the reference's `plan`: `sweeps - 1` updates of V, then Q).
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from tf_equirl import checks, rng
from tf_equirl.groups import MDPSymmetry
from tf_equirl.prae.config import REWARDS
from tf_equirl.prae.networks import PRAEModel, latent_representation

__all__ = ["AbstractMDP", "Plan", "value_iteration", "abstract_transitions", "build_abstract_mdp"]


@dataclasses.dataclass(frozen=True)
class Plan:
  """Result of value iteration.

  Attributes:
    values: `V` `[N]`.
    q_values: `Q` `[N, A]`.
  """

  values: np.ndarray
  q_values: np.ndarray


@tf.function(jit_compile=True)
def _value_iteration(transitions, rewards, gamma, sweeps):
  # Each sweep is one [A N, N] x [N, 1] matrix product: XLA's CPU matrix-vector product inside
  # a loop runs several times slower on a thousand prototypes (`benchmarks/prae_planning.py`).
  flat = tf.reshape(transitions, [-1, tf.shape(transitions)[2]])

  def sweep(values):
    return rewards + gamma * tf.reshape(tf.matmul(flat, values[:, None]), tf.shape(rewards))

  def body(k, values, q):
    q = sweep(values)
    return k + 1, tf.reduce_max(q, axis=0), q

  n = tf.shape(transitions)[1]
  zeros = tf.zeros([n], transitions.dtype)
  _, values, q = tf.while_loop(
    lambda k, *_: k < sweeps, body, (tf.constant(0), zeros, tf.zeros_like(rewards))
  )
  return values, tf.transpose(q)


def value_iteration(
  transitions: np.ndarray, rewards: np.ndarray, gamma: float, sweeps: int = 500
) -> Plan:
  """`sweeps` sweeps of value iteration (see the module docstring).

  Args:
    transitions: `T[a, i, j]` `[A, N, N]`, rows summing to 1.
    rewards: `[N]` (a state's reward, the same for every action) or `[A, N]`.
    gamma: discount in [0, 1).
    sweeps: number of sweeps (>= 1).

  Raises:
    ValueError: shapes that do not fit, rows that are not distributions, a bad gamma or
      sweep count.
  """
  transitions = np.asarray(transitions, np.float32)
  if transitions.ndim != 3 or transitions.shape[1] != transitions.shape[2]:
    raise ValueError(
      f"value_iteration: transitions must have shape [A, N, N], received {transitions.shape}."
    )
  if not np.allclose(transitions.sum(-1), 1.0, atol=1e-4) or np.any(transitions < 0):
    raise ValueError("value_iteration: every row T[a, i, :] must be a probability distribution.")
  num_actions, n = transitions.shape[:2]
  rewards = np.asarray(rewards, np.float32)
  if rewards.shape == (n,):
    rewards = np.broadcast_to(rewards, (num_actions, n))
  if rewards.shape != (num_actions, n):
    raise ValueError(
      f"value_iteration: rewards must have shape [{n}] or [{num_actions}, {n}], received "
      f"{rewards.shape}."
    )
  gamma = checks.unit_interval("value_iteration", "gamma", gamma)
  if gamma >= 1.0:
    raise ValueError(f"value_iteration.gamma must lie in [0, 1), received {gamma!r}.")
  count = checks.positive_int("value_iteration", "sweeps", sweeps)
  values, q = _value_iteration(
    tf.constant(transitions),
    tf.constant(rewards),
    tf.constant(gamma, tf.float32),
    tf.constant(count),
  )
  return Plan(values.numpy(), q.numpy())


def abstract_transitions(
  prototypes: tf.Tensor,
  next_latents: tf.Tensor,
  tau: float,
  orbit_matrices: Optional[np.ndarray] = None,
) -> tf.Tensor:
  """`T[a, i, j] = softmax_j(-||next_latents[a, i] - prototypes[j]||^2 / (2 tau))`.

  Args:
    prototypes: `[N, k]`.
    next_latents: `[A, N, k]`, the predicted latents `x_i + A(x_i, a)`.
    tau: temperature (> 0).
    orbit_matrices: None, or the latent representation `[|G|, k, k]`: then the distance to
      prototype j is the smallest over its orbit `rho(g) x_j` (planning on the quotient).

  The squared distances are `||u||^2 + ||v||^2 - 2 u.v` in float64, one `[|G|, A, N, N]`
  tensor: the differences themselves would be `[|G|, A, N, N, k]`, 6.4 GB for the grid
  world's 1,024 prototypes, 48 latents and D4.
  """
  prototypes = tf.cast(tf.convert_to_tensor(prototypes), tf.float64)
  next_latents = tf.cast(tf.convert_to_tensor(next_latents), tf.float64)
  if orbit_matrices is None:
    orbit = prototypes[None]
  else:
    orbit = tf.einsum("gkl,nl->gnk", tf.constant(orbit_matrices, tf.float64), prototypes)
  cross = tf.einsum("ank,gmk->ganm", next_latents, orbit)
  squared = (
    tf.reduce_sum(tf.square(next_latents), axis=-1)[None, :, :, None]
    + tf.reduce_sum(tf.square(orbit), axis=-1)[:, None, None, :]
    - 2.0 * cross
  )
  distance = 0.5 * tf.maximum(tf.reduce_min(squared, axis=0), 0.0)
  return tf.cast(tf.nn.softmax(-distance / tau, axis=-1), tf.float32)


@dataclasses.dataclass(frozen=True)
class AbstractMDP:
  """A finite MDP over prototypes of the latent space.

  Attributes:
    prototypes: `[N, k]` latent states.
    transitions: `[A, N, N]`.
    rewards: `[A, N]`.
    gamma: discount.
    goal_index: the goal prototype's index (reward="goal"), else None.
    orbit_matrices: for an abstract MDP on the quotient by a group, the latent
      representation `[|G|, k, k]` (each prototype stands for its orbit), else None.
    action_matrices: with `orbit_matrices`, the action permutations `pi(g)` `[|G|, A, A]`.
  """

  prototypes: np.ndarray
  transitions: np.ndarray
  rewards: np.ndarray
  gamma: float
  goal_index: Optional[int] = None
  orbit_matrices: Optional[np.ndarray] = None
  action_matrices: Optional[np.ndarray] = None

  def plan(self, sweeps: int = 500) -> Plan:
    """Value iteration with `sweeps` sweeps."""
    return value_iteration(self.transitions, self.rewards, self.gamma, sweeps)


def build_abstract_mdp(
  model: PRAEModel,
  observations: np.ndarray,
  num_prototypes: int = 1024,
  tau: float = 0.1,
  gamma: float = 0.9,
  reward: str = "goal",
  goal: Optional[Sequence[float]] = None,
  seed: int = 0,
  symmetry: Optional[MDPSymmetry] = None,
) -> AbstractMDP:
  """The abstract MDP of `model` over prototypes drawn from `observations` `[M, d]`.

  Args:
    model: a trained `PRAEModel`.
    observations: states to draw the prototypes from (the training observations).
    num_prototypes: how many (all where `observations` has fewer).
    tau: transition temperature.
    gamma: discount.
    reward: "goal" or "learned" (see the module docstring).
    goal: the goal observation for reward="goal" (None: zeros).
    seed: seed of the prototype draw.
    symmetry: None, or the environment's `MDPSymmetry` to plan on the quotient of the latent
      space by its group (see the module docstring; meant for an equivariant PRAE).

  Raises:
    ValueError: a bad reward kind, observations or goal of the wrong width, a symmetry of
      another action count.
  """
  if reward not in REWARDS:
    raise ValueError(f"build_abstract_mdp: reward must be one of {REWARDS}, received {reward!r}.")
  checks.positive_int("build_abstract_mdp", "num_prototypes", num_prototypes)
  checks.positive_number("build_abstract_mdp", "tau", tau)
  observations = model.check_observation(np.asarray(observations, np.float32))
  m = int(observations.shape[0])
  if m > num_prototypes:
    order = tf.argsort(rng.uniform([m], tf.constant([seed, 0x9407], tf.int64)))
    observations = tf.gather(observations, tf.sort(order[:num_prototypes]))
  prototypes = model.encoder(observations)
  goal_index = None
  if reward == "goal":
    goal_obs = (
      np.zeros(model.state_dim, np.float32) if goal is None else np.asarray(goal, np.float32)
    )
    z_goal = model.encode(goal_obs.reshape(1, -1))
    distinct = 0.5 * tf.reduce_sum(tf.square(prototypes - z_goal), axis=-1) > 1e-8
    prototypes = tf.concat([tf.boolean_mask(prototypes, distinct), z_goal], axis=0)
    goal_index = int(prototypes.shape[0]) - 1
  n, num_actions = int(prototypes.shape[0]), model.num_actions
  orbit_matrices = action_matrices = None
  if symmetry is not None:
    if symmetry.continuous_actions or symmetry.num_actions != num_actions:
      raise ValueError(
        f"build_abstract_mdp: the symmetry permutes {symmetry.num_actions} discrete actions; "
        f"the model has {num_actions}."
      )
    orbit_matrices = latent_representation(symmetry, model.latent_dim).matrices.astype(np.float32)
    action_matrices = np.asarray(symmetry.action_rep.matrices, np.float32)
  tiled = tf.tile(prototypes, [num_actions, 1])
  actions = tf.repeat(tf.range(num_actions, dtype=tf.int32), n)
  next_latents = tf.reshape(model.transition([tiled, actions]), [num_actions, n, -1])
  transitions = abstract_transitions(prototypes, next_latents, tau, orbit_matrices)
  if reward == "goal":
    rewards = np.zeros((num_actions, n), np.float32)
    rewards[:, goal_index] = 1.0
  else:
    predicted = model.reward(tf.reshape(next_latents, [num_actions * n, -1]))
    rewards = np.reshape(predicted.numpy(), (num_actions, n))
  return AbstractMDP(
    prototypes.numpy(),
    transitions.numpy(),
    rewards,
    float(gamma),
    goal_index=goal_index,
    orbit_matrices=orbit_matrices,
    action_matrices=action_matrices,
  )
