"""How far an environment variant is from its symmetry: Theorem 1 of Park et al. (2025).

An MDP is `(G, eps_R, eps_P)`-invariant when for every state `s`, action `a` and `g` in `G`

    |R(s, a) - R(gs, ga)| <= eps_R,   d(P(. | gs, ga), g P(. | s, a)) <= eps_P,

and Theorem 1 then bounds the optimal Q-function's departure from invariance:

    |Q*(s, a) - Q*(gs, ga)| <= alpha = (eps_R + gamma rho(V*) eps_P) / (1 - gamma),

with `rho(V*)` the Minkowski functional of the distance `d`: `||V*||_Lip` for the Kantorovich
(Wasserstein-1) distance, `(max V* - min V*) / 2` for total variation.

The environments here are deterministic, so `P(. | s, a)` is a point mass and total variation
is 1 as soon as the two next states differ at all: it says nothing about the strength of the
breaking. This module uses the Kantorovich distance with the Euclidean metric on observations,
which for two point masses is the distance between the two next observations:

    eps_P = sup ||obs(T(gs, ga)) - rho(g) obs(T(s, a))||_2,   rho(V*) = ||V*||_Lip.

Estimators (all sampled, so each is a lower estimate of the supremum it stands for):

* `transition_gap`: `eps_R` and `eps_P` as maxima over sampled `(s, a, g)` of the two
  mismatches, from the environment's pure functions (its physics, breaking included, its
  outcome and `transform_physics`), over one agent step of `action_repeat` env steps (rewards
  summed). Half the states are those a uniformly random policy visits from the
  environment's resets, half are uniform in a box of physics states per environment
  (`STATE_BOXES`: every angle, moderate velocities), because a random policy never swings
  a pole up into the regions where the local variants act; actions are uniform in
  `[-1, 1]^k`. One compiled call.
* `value_lipschitz`: `||V||_Lip` of a trained agent's value `V(s) = min_i Q_i(s, mu(s))` as
  the largest gradient norm `||dV/ds||_2` over sampled observations (a lower estimate of the
  critic's Lipschitz constant, which itself stands in for `V*`'s).
* `critic_gap`: the trained critic's measured `|Q(s, a) - Q(gs, ga)|` (twin minimum) on
  sampled `(s, a, g)`, to set beside `alpha`; for a pixel agent on the sampled states'
  pictures (`sample_pictures`), with `g` mirroring or turning the picture.
* `theorem1_alpha`: the bound from the three.
* `measure_seed`: a trained agent's critic gap, value Lipschitz estimate and relaxed-weight
  spreads, as the continuous-control study records them for each seed.

`alpha` computed from these estimates is therefore an estimate of the bound, not a certified
bound: the sampled `eps` can only miss larger mismatches, and the critic is an estimate of
`Q*`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl import checks, envs, rng
from tf_equirl.groups import MDPSymmetry
from tf_equirl.testing import relaxed_weight_spread

__all__ = [
  "STATE_BOXES",
  "TransitionGap",
  "transition_gap",
  "sample_observations",
  "sample_pictures",
  "value_lipschitz",
  "critic_gap",
  "theorem1_alpha",
  "measure_seed",
]


_PI = float(np.pi)
# Boxes `(low, high)` of physics states sampled uniformly beside the random rollouts' states:
# every angle, velocities of a few radians (metres) per second, the reacher's target anywhere
# in its disc's bounding square.
STATE_BOXES = {
  "Pendulum-v1": ((-_PI, -8.0), (_PI, 8.0)),  # (theta, theta_dot); 8 = gymnasium's max speed
  "CartPoleSwingup-v0": ((-1.8, -_PI, -5.0, -5.0), (1.8, _PI, 5.0, 5.0)),  # slider range 1.8
  "AcrobotSwingup-v0": ((-_PI, -_PI, -5.0, -5.0), (_PI, _PI, 5.0, 5.0)),
  "Reacher-v0": (
    (-_PI, -np.radians(160), -5.0, -5.0, -0.2, -0.2),  # wrist limit 160 degrees
    (_PI, np.radians(160), 5.0, 5.0, 0.2, 0.2),  # target radius at most 0.2
  ),
}
# dm_control's tasks (tf_equirl.envs.dmc) sample MuJoCo's positions and velocities (and
# Reacher's target) in the boxes of their TensorFlow-op twins, whose states have that layout.
STATE_BOXES.update(
  {
    "dm_control/cartpole-swingup-v0": STATE_BOXES["CartPoleSwingup-v0"],
    "dm_control/acrobot-swingup-v0": STATE_BOXES["AcrobotSwingup-v0"],
    "dm_control/reacher-hard-v0": STATE_BOXES["Reacher-v0"],
    # (cup x, cup z, ball x, ball z, their velocities): the cup near the centre, the ball
    # around it, velocities of a few metres per second.
    "dm_control/ball_in_cup-catch-v0": (
      (-0.2, -0.2, -0.4, -0.4, -2.0, -2.0, -2.0, -2.0),
      (0.2, 0.2, 0.4, 0.4, 2.0, 2.0, 2.0, 2.0),
    ),
  }
)


@dataclasses.dataclass
class TransitionGap:
  """The sampled mismatches of one environment variant.

  Attributes:
    env: the variant's name ("Pendulum-v1:repeat:1").
    eps_r: max over the samples of `|R(s, a) - R(gs, ga)|` (reward of one agent step).
    eps_p: max over the samples of `||obs(T(gs, ga)) - rho(g) obs(T(s, a))||_2`.
    eps_r_by_element: `[|G|]` the same maximum per group element (0 for the identity).
    eps_p_by_element: `[|G|]`.
    samples: `(s, a)` pairs, each checked against every group element.
    action_repeat: env steps of one agent step.
  """

  env: str
  eps_r: float
  eps_p: float
  eps_r_by_element: np.ndarray
  eps_p_by_element: np.ndarray
  samples: int
  action_repeat: int


def _random_states(env, key, num_envs: int, rollout_steps: int) -> tf.Tensor:
  """Physics states `[2 * num_envs * rollout_steps, n]`: those uniformly random actions visit
  from the environment's resets (the variant's physics, never reset within the rollout), then
  as many uniform in the environment's `STATE_BOXES` entry."""
  physics = env._initial_physics(rng.fold_in(key, 0), num_envs)  # pylint: disable=protected-access
  k = env.symmetry.action_dim
  states = []
  for t in range(rollout_steps):
    states.append(physics)
    action = rng.uniform([num_envs, k], rng.fold_in(key, t + 1), -1.0, 1.0)
    physics = env.physics(physics, tf.cast(action, physics.dtype))
  low, high = STATE_BOXES[env.name]
  u = rng.uniform([num_envs * rollout_steps, len(low)], rng.fold_in(key, -2), 0.0, 1.0)
  box = tf.constant(low, tf.float32) + u * tf.constant(np.subtract(high, low), tf.float32)
  if hasattr(env, "physics_from_coordinates"):  # dm_control: MuJoCo's whole state per row
    box = env.physics_from_coordinates(box)
  states.append(tf.cast(box, physics.dtype))
  return tf.concat(states, axis=0)


def _agent_step(env, physics: tf.Tensor, action: tf.Tensor, repeat: int):
  """`(reward summed over `repeat` env steps, next physics)` of the environment's functions."""
  reward = tf.zeros(tf.shape(physics)[:1], tf.float64)
  for _ in range(repeat):
    nxt = env.physics(physics, action)
    r, _ = env.outcome(physics, action, nxt)
    reward += tf.cast(r, tf.float64)
    physics = nxt
  return reward, physics


def transition_gap(
  env_name: str,
  num_envs: int = 128,
  rollout_steps: int = 50,
  action_repeat: int = 1,
  seed: int = 0,
  env: Optional[Any] = None,
) -> TransitionGap:
  """Samples `eps_R` and `eps_P` of an environment variant (module docstring).

  Args:
    env_name: a registered continuous-control environment or variant
      ("CartPoleSwingup-v0:gravity:0.5").
    num_envs: random rollouts whose states are sampled.
    rollout_steps: states per rollout (the reset state and the next `rollout_steps - 1`).
    action_repeat: env steps of one agent step (the transition the theorem is about is the
      agent's).
    seed: seeds the resets, the rollouts' actions and the sampled actions.
    env: the environment (default `envs.make(env_name)`).

  Returns:
    A `TransitionGap` over `2 * num_envs * rollout_steps` sampled `(s, a)` pairs (the
    rollouts' states and as many from `STATE_BOXES`).

  Raises:
    ValueError: a non-positive count, or an environment without continuous actions or
      without `transform_physics`.
  """
  for name, value in (
    ("num_envs", num_envs),
    ("rollout_steps", rollout_steps),
    ("action_repeat", action_repeat),
  ):
    checks.positive_int("transition_gap", name, value)
  env = env if env is not None else envs.make(env_name)
  symmetry: MDPSymmetry = env.symmetry
  if (
    not symmetry.continuous_actions
    or not hasattr(env, "transform_physics")
    or env.name not in STATE_BOXES
  ):
    raise ValueError(
      f"transition_gap: {env_name} must be a continuous-control environment with "
      "continuous actions and transform_physics (Pendulum-v1, CartPoleSwingup-v0, "
      "AcrobotSwingup-v0, Reacher-v0, dm_control's tasks and their variants)."
    )
  order = symmetry.group.order
  rho = tf.constant(symmetry.state_rep.matrices, tf.float64)
  pi = tf.constant(symmetry.action_rep.matrices, tf.float64)

  @tf.function(autograph=False)  # one graph; XLA would only add compile time here
  def gaps(key):
    # float64 physics: the mismatch of an exact symmetry is then 0, not float32 rounding.
    states = tf.cast(_random_states(env, key, num_envs, rollout_steps), tf.float64)
    n = tf.shape(states)[0]
    actions = rng.uniform(tf.stack([n, symmetry.action_dim]), rng.fold_in(key, -1), -1.0, 1.0)
    actions = tf.cast(actions, tf.float64)
    reward, nxt = _agent_step(env, states, actions, action_repeat)
    obs_next = tf.cast(env.observe(nxt), tf.float64)
    eps_r, eps_p = [], []
    for g in range(order):
      g_states = env.transform_physics(states, g)
      g_actions = tf.linalg.matvec(pi[g], actions)
      g_reward, g_nxt = _agent_step(env, g_states, g_actions, action_repeat)
      moved = tf.linalg.matvec(rho[g], obs_next)
      distance = tf.norm(tf.cast(env.observe(g_nxt), tf.float64) - moved, axis=-1)
      eps_r.append(tf.reduce_max(tf.abs(g_reward - reward)))
      eps_p.append(tf.reduce_max(distance))
    return tf.stack(eps_r), tf.stack(eps_p)

  key = tf.constant([int(seed), 0x7E01], tf.int64)
  eps_r, eps_p = (x.numpy().astype(np.float64) for x in gaps(key))
  return TransitionGap(
    env=env_name,
    eps_r=float(eps_r.max()),
    eps_p=float(eps_p.max()),
    eps_r_by_element=eps_r,
    eps_p_by_element=eps_p,
    samples=2 * num_envs * rollout_steps,
    action_repeat=action_repeat,
  )


def sample_observations(
  env_name: str, num_envs: int = 64, rollout_steps: int = 50, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray]:
  """`(observations [N, d], actions [N, k])`: the states a uniformly random policy visits
  (as in `transition_gap`) and uniform actions, float32, for `value_lipschitz` and
  `critic_gap`."""
  env = envs.make(env_name)
  key = tf.constant([int(seed), 0x7E02], tf.int64)
  states = _random_states(env, key, num_envs, rollout_steps)
  obs = env.observe(states).numpy().astype(np.float32)
  actions = rng.uniform([obs.shape[0], env.symmetry.action_dim], rng.fold_in(key, -1), -1.0, 1.0)
  return obs, actions.numpy().astype(np.float32)


def sample_pictures(
  env_name: str,
  image_size: int,
  frame_stack: int,
  num_envs: int = 16,
  rollout_steps: int = 25,
  seed: int = 0,
) -> Tuple[np.ndarray, np.ndarray]:
  """`(pictures [N, size, size, 3 * frame_stack], actions [N, k])`: the states of
  `sample_observations` drawn by the environment's renderer, each held still for
  `frame_stack` frames, and uniform actions; for `critic_gap` on a pixel agent's critic."""
  pixel_env = envs.make(
    env_name, observation="pixels", image_size=image_size, frame_stack=frame_stack
  )
  env = envs.make(env_name)
  key = tf.constant([int(seed), 0x7E02], tf.int64)
  states = _random_states(env, key, num_envs, rollout_steps)
  history = tf.repeat(states[:, None], pixel_env.history_length, axis=1)  # [N, history, n]
  pictures = pixel_env.observe(history).numpy().astype(np.float32)
  actions = rng.uniform(
    [pictures.shape[0], env.symmetry.action_dim], rng.fold_in(key, -1), -1.0, 1.0
  )
  return pictures, actions.numpy().astype(np.float32)


def value_lipschitz(actor: keras.Model, critic: keras.Model, observations: np.ndarray) -> float:
  """`max_s ||dV/ds||_2` for `V(s) = min_i Q_i(s, actor(s))` over `observations` `[N, d]`:
  a sampled lower estimate of `||V||_Lip` in the Euclidean metric on observations."""
  s = tf.convert_to_tensor(observations, tf.float32)
  with tf.GradientTape() as tape:
    tape.watch(s)
    v = tf.reduce_min(critic([s, tf.clip_by_value(actor(s), -1.0, 1.0)]), axis=1)
  grad = tape.gradient(v, s)
  return float(tf.reduce_max(tf.norm(grad, axis=-1)).numpy())


def critic_gap(
  critic: keras.Model, symmetry: MDPSymmetry, observations: np.ndarray, actions: np.ndarray
) -> Dict[str, float]:
  """The critic's measured departure from invariance: `{"mean", "max"}` over the samples and
  the group elements of `|Q(s, a) - Q(gs, ga)|`, Q the twin minimum. `observations` are
  state vectors `[N, d]`, or pictures `[N, H, W, C]` when `symmetry` is a pixel
  environment's (its state representation a `PlaneAction`)."""
  s = tf.convert_to_tensor(observations, tf.float32)
  a = tf.convert_to_tensor(actions, tf.float32)
  q = tf.reduce_min(critic([s, a]), axis=1)
  gaps = []
  for g in range(symmetry.group.order):
    if hasattr(symmetry.state_rep, "transform"):  # a PlaneAction: pictures, no matrices
      gs = symmetry.state_rep.transform(s, g)
    else:
      gs = tf.linalg.matvec(tf.constant(symmetry.state_rep.matrices[g], tf.float32), s)
    pi = tf.constant(symmetry.action_rep.matrices[g], tf.float32)
    gq = tf.reduce_min(critic([gs, tf.linalg.matvec(pi, a)]), axis=1)
    gaps.append(tf.abs(gq - q).numpy())
  gaps_np = np.concatenate(gaps)
  return {"mean": float(gaps_np.mean()), "max": float(gaps_np.max())}


def theorem1_alpha(eps_r: float, eps_p: float, gamma: float, lipschitz: float) -> float:
  """`alpha = (eps_R + gamma rho(V*) eps_P) / (1 - gamma)` with `rho(V*) = lipschitz`.

  Raises:
    ValueError: `gamma` outside `[0, 1)` or a negative input.
  """
  if not 0 <= gamma < 1:
    raise ValueError(f"theorem1_alpha: gamma must lie in [0, 1), received gamma={gamma!r}.")
  for name, value in (("eps_r", eps_r), ("eps_p", eps_p), ("lipschitz", lipschitz)):
    if not value >= 0:
      raise ValueError(f"theorem1_alpha: {name} must be >= 0, received {name}={value!r}.")
  return float((eps_r + gamma * lipschitz * eps_p) / (1.0 - gamma))


def measure_seed(
  actor: keras.Model,
  critic: keras.Model,
  symmetry: MDPSymmetry,
  samples: Tuple[np.ndarray, np.ndarray],
  pixels: bool,
) -> Dict[str, Any]:
  """One trained agent's numbers for Theorem 1 and the relaxed layers: `critic_gap`'s mean and
  max on `samples` (observations or pictures, and actions), `value_lipschitz` on the
  observations (nan for pictures: a gradient over pixel values has no common scale with
  `eps_P`), and `relaxed_weight_spread` of every relaxed layer of the actor and the critic
  (keys `"actor/<layer>"`, `"critic/<layer>"`)."""
  obs, actions = samples
  gap = critic_gap(critic, symmetry, obs, actions)
  spreads = {
    f"{part}/{layer}": float(value)
    for part, model in (("actor", actor), ("critic", critic))
    for layer, value in relaxed_weight_spread(model).items()
  }
  return {
    "lipschitz": float("nan") if pixels else value_lipschitz(actor, critic, obs),
    "gap_mean": float(gap["mean"]),
    "gap_max": float(gap["max"]),
    "spreads": spreads,
  }
