"""Runs a tf_equirl policy on a gymnasium environment with the same spaces.

The TF environments are for training; this adapter evaluates the trained policy on
the reference implementation (gymnasium's own `CartPole-v1`, or
`tf_equirl/Catch-v0`), one episode at a time.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import gymnasium
import numpy as np
import tensorflow as tf
from gymnasium import spaces
from tf_agents.policies import tf_policy
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

__all__ = ["run_gymnasium_episodes", "check_gymnasium_compatible"]


def check_gymnasium_compatible(env: gymnasium.Env, observation_spec: Any, action_spec: Any) -> None:
  """Checks that `env`'s spaces match the TF specs a policy was built for.

  Required: a `Discrete(n)` action space starting at 0 for a scalar integer action
  spec with values `[0, n-1]`, and a `Box` observation space with the spec's shape
  and dtype (and its bounds, when the spec is bounded).

  Raises:
    ValueError: naming the first mismatch, with both sides.
  """
  where = f"gymnasium env {_env_name(env)}"
  act = env.action_space
  if not isinstance(act, spaces.Discrete) or act.start != 0:
    raise ValueError(
      f"{where} has action space {act}; expected Discrete(n) starting at 0 to "
      f"match the policy's action spec {action_spec}."
    )
  if (
    not isinstance(action_spec, tensor_spec.BoundedTensorSpec)
    or not action_spec.dtype.is_integer
    or action_spec.shape.rank != 0
  ):
    raise ValueError(
      f"The policy's action spec {action_spec} is not a scalar bounded integer "
      "spec, so it cannot drive a Discrete gymnasium action space."
    )
  lo, hi = int(np.min(action_spec.minimum)), int(np.max(action_spec.maximum))
  if lo != 0 or hi != int(np.asarray(act.n)) - 1:
    raise ValueError(
      f"{where} has {act.n} actions (Discrete({act.n})) but the policy's "
      f"action spec allows actions [{lo}, {hi}]."
    )
  obs = env.observation_space
  if not isinstance(obs, spaces.Box):
    raise ValueError(
      f"{where} has observation space {obs}; expected a Box matching the "
      f"policy's observation spec {observation_spec}."
    )
  if not isinstance(observation_spec, tf.TypeSpec) or not hasattr(observation_spec, "shape"):
    raise ValueError(
      f"The policy's observation spec {observation_spec} is not a single "
      "tensor spec, so it cannot match a Box observation space."
    )
  if tuple(obs.shape) != tuple(observation_spec.shape.as_list()):
    raise ValueError(
      f"{where} has observations of shape {obs.shape}; the policy expects "
      f"shape {tuple(observation_spec.shape.as_list())}."
    )
  if np.dtype(obs.dtype) != observation_spec.dtype.as_numpy_dtype:
    raise ValueError(
      f"{where} has observations of dtype {obs.dtype}; the policy expects "
      f"{observation_spec.dtype.name}."
    )
  if isinstance(observation_spec, tensor_spec.BoundedTensorSpec):
    shape = obs.shape
    for bound, space_value, spec_value in (
      ("lower", obs.low, observation_spec.minimum),
      ("upper", obs.high, observation_spec.maximum),
    ):
      spec_value = np.broadcast_to(np.asarray(spec_value, np.float64), shape)
      if not np.allclose(np.asarray(space_value, np.float64), spec_value, rtol=0, atol=1e-6):
        raise ValueError(
          f"{where} has {bound} observation bounds {_fmt(space_value)}; "
          f"the policy's observation spec has {_fmt(spec_value)}."
        )


def run_gymnasium_episodes(
  policy: Union[tf_policy.TFPolicy, Callable[[np.ndarray], Any]],
  env: Union[str, gymnasium.Env],
  num_episodes: int,
  seed: int = 0,
  tf_env: Any = None,
  max_steps_per_episode: Optional[int] = None,
) -> np.ndarray:
  """Plays `num_episodes` episodes of `policy` on a gymnasium environment.

  Args:
    policy: a tf-agents `TFPolicy` (called as `policy.action(time_step)` with a
      batch-1 `TimeStep`, carrying its policy state), or a callable mapping an
      observation batch `[1, *obs_shape]` (float32) to actions `[1]`.
    env: a gymnasium environment or an id for `gymnasium.make` (`"CartPole-v1"`,
      `"tf_equirl/Catch-v0"`); an environment made here is closed at the end.
    num_episodes: number of episodes.
    seed: seed of the first `env.reset`; later resets continue its RNG, so the
      whole run is reproducible.
    tf_env: the TF environment (or a registered name for `tf_equirl.envs.make`)
      whose specs the policy was built for. Required for a plain callable; for a
      `TFPolicy` the policy's own specs are used when this is None.
    max_steps_per_episode: optional cap, for environments without a time limit.

  Returns:
    float64 array `[num_episodes]` of undiscounted episode returns.

  Raises:
    ValueError: if the spaces do not match the specs, or the policy returns an
      action outside the action space.
  """
  if not isinstance(num_episodes, (int, np.integer)) or num_episodes < 1:
    raise ValueError(f"num_episodes must be a positive integer, received {num_episodes!r}.")
  is_tf_policy = isinstance(policy, tf_policy.TFPolicy)
  if not is_tf_policy and not callable(policy):
    raise ValueError(
      "policy must be a tf_agents TFPolicy or a callable observations -> "
      f"actions, received {type(policy).__name__}."
    )
  if isinstance(tf_env, str):
    from tf_equirl.envs.registry import make  # pylint: disable=g-import-not-at-top

    tf_env = make(tf_env)
  if tf_env is not None:
    observation_spec, action_spec = tf_env.observation_spec(), tf_env.action_spec()
  elif is_tf_policy:
    tf_agents_policy: Any = policy
    observation_spec = tf_agents_policy.time_step_spec.observation
    action_spec = tf_agents_policy.action_spec
  else:
    raise ValueError(
      "run_gymnasium_episodes needs tf_env (the TF environment or its "
      "registered name) to check the spaces when policy is a plain callable."
    )

  owned = isinstance(env, str)
  gym_env: Any = gymnasium.make(env) if isinstance(env, str) else env
  try:
    check_gymnasium_compatible(gym_env, observation_spec, action_spec)
    act = _tf_policy_actor(policy, observation_spec) if is_tf_policy else _callable_actor(policy)
    returns = np.zeros(num_episodes)
    for episode in range(num_episodes):
      observation, _ = gym_env.reset(seed=seed if episode == 0 else None)
      act.start()
      steps = 0
      while True:
        action = act(observation)
        if not gym_env.action_space.contains(action):
          raise ValueError(
            f"The policy returned action {action!r}, outside the action space "
            f"{gym_env.action_space} (valid: integers in [0, "
            f"{gym_env.action_space.n - 1}])."
          )
        observation, reward, terminated, truncated, _ = gym_env.step(action)
        returns[episode] += float(reward)
        steps += 1
        if (
          terminated
          or truncated
          or (max_steps_per_episode is not None and steps >= max_steps_per_episode)
        ):
          break
    return returns
  finally:
    if owned:
      gym_env.close()


class _callable_actor:  # pylint: disable=invalid-name
  """Wraps `fn(observations [1, ...]) -> actions [1]`."""

  def __init__(self, fn):
    self._fn = fn

  def start(self):
    pass

  def __call__(self, observation: np.ndarray) -> int:
    return _single_action(self._fn(np.asarray(observation, np.float32)[None]))


class _tf_policy_actor:  # pylint: disable=invalid-name
  """Calls a TFPolicy with batch-1 time steps, FIRST then MID, carrying its state."""

  def __init__(self, policy: tf_policy.TFPolicy, observation_spec):
    self._policy = policy
    self._dtype = observation_spec.dtype
    self._action = tf.function(policy.action, autograph=False)
    self._first = True
    self._policy_state = ()

  def start(self):
    self._first = True
    self._policy_state = self._policy.get_initial_state(1)

  def __call__(self, observation: np.ndarray) -> int:
    step_type = ts.StepType.FIRST if self._first else ts.StepType.MID
    self._first = False
    time_step = ts.TimeStep(
      step_type=tf.constant([step_type], tf.int32),
      reward=tf.zeros([1], tf.float32),
      discount=tf.ones([1], tf.float32),
      observation=tf.constant(np.asarray(observation)[None], self._dtype),
    )
    action_step = self._action(time_step, self._policy_state)
    self._policy_state = action_step.state
    return _single_action(action_step.action)


def _single_action(action: Any) -> Any:
  values = np.asarray(action)
  if values.size != 1:
    raise ValueError(
      f"The policy returned actions of shape {values.shape} for a batch of one "
      "observation; expected shape [1]."
    )
  value = values.reshape(-1)[0]
  return int(value) if np.issubdtype(values.dtype, np.integer) else value


def _fmt(values: np.ndarray) -> str:
  return np.array2string(np.asarray(values, np.float32), separator=", ", precision=4)


def _env_name(env: gymnasium.Env) -> str:
  spec = getattr(env, "spec", None)
  return repr(spec.id) if spec is not None else type(env).__name__
