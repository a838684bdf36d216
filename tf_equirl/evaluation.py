"""Evaluate a trained actor (a Keras logits model) on the TF environments or on gymnasium.

`evaluate(model, env_name, episodes)` plays each episode to its end, greedy (argmax) or
sampling from the logits, and returns the episodic returns. The TF backend runs all episodes
as one batch inside one compiled loop; the gymnasium backend plays the reference
implementation (gymnasium's own `CartPole-v1`, or `tf_equirl/Catch-v0`) one step at a time.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tf_agents.trajectories import time_step as ts

from tf_equirl import checks, envs, rng

__all__ = ["evaluate", "evaluate_tf", "evaluate_gymnasium", "GYMNASIUM_IDS", "render_episodes"]

# tf_equirl environment name -> gymnasium id of the same MDP.
GYMNASIUM_IDS = {
  "CartPole-v1": "CartPole-v1",
  "Catch-v0": envs.CATCH_GYMNASIUM_ID,
  "GridWorld-v0": envs.GRIDWORLD_GYMNASIUM_ID,
}
_BACKENDS = ("tf", "gymnasium")


def _check(model, env_name: str, episodes: int):
  if env_name not in envs.list_envs():
    raise ValueError(f"Unknown environment {env_name!r}; expected one of {envs.list_envs()}.")
  if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
    raise ValueError(f"episodes must be a positive integer, received {episodes!r}.")
  if not callable(model):
    raise ValueError(
      f"model must be a Keras model mapping observations to logits, received "
      f"{type(model).__name__}."
    )


def _actions(logits: tf.Tensor, greedy: bool, seed: tf.Tensor) -> tf.Tensor:
  if greedy:
    return tf.argmax(logits, axis=-1, output_type=tf.int32)
  uniform = rng.uniform(tf.shape(logits), seed, minval=1e-12, maxval=1.0)
  return tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)


def evaluate_tf(
  model: keras.Model,
  env_name: str,
  episodes: int = 100,
  greedy: bool = True,
  seed: int = 0,
  max_steps: int = 10_000,
  env_kwargs: Optional[Dict[str, Any]] = None,
  action_repeat: int = 1,
) -> np.ndarray:
  """Returns of `episodes` episodes played in parallel on the TF environment (made with
  `envs.make(env_name, **env_kwargs)`, e.g. `{"max_episode_steps": 200}`).

  On a discrete-action environment `model` maps observations to logits (greedy: the argmax;
  else sampled). On a continuous-action one it is a deterministic actor: its output, clipped
  to `[-1, 1]`, is the action (`greedy` must be True), held for `action_repeat` env steps as
  the agent that trained it did (`ACConfig.action_repeat`); `max_steps` counts agent steps.

  Raises:
    ValueError: an unknown environment, a bad `episodes` or `action_repeat`, or
      `greedy=False` for a continuous actor.
  """
  _check(model, env_name, episodes)
  checks.positive_int("evaluate_tf", "action_repeat", action_repeat)
  env = envs.make(env_name, batch_size=episodes, seed=seed, **(env_kwargs or {}))
  continuous = bool(env.symmetry.continuous_actions)
  if continuous and not greedy:
    raise ValueError(
      f"evaluate_tf: {env_name} has continuous actions and `model` is a deterministic actor "
      "(its output is the action), so greedy=False has no meaning; pass greedy=True."
    )

  @tf.function(jit_compile=env.compiles_with_xla)
  def play():
    state, step = env.pure_reset(seed)
    key = tf.constant([seed, 0xE7A1], tf.int64)

    def body(t, state, obs, returns, done):
      output = model(tf.reshape(obs, [episodes, -1]))
      if continuous:
        action = tf.clip_by_value(tf.cast(output, tf.float32), -1.0, 1.0)
      else:
        action = _actions(output, greedy, rng.fold_in(key, t))
      for _ in range(action_repeat):
        state, step = env.pure_step(state, action)
        returns += tf.where(done, 0.0, step.reward)
        done = tf.logical_or(done, tf.equal(step.step_type, ts.StepType.LAST))
      return t + 1, state, step.observation, returns, done

    _, _, _, returns, done = tf.while_loop(
      lambda t, s, o, r, d: tf.logical_and(t < max_steps, tf.logical_not(tf.reduce_all(d))),
      body,
      (
        tf.constant(0, tf.int64),
        state,
        step.observation,
        tf.zeros([episodes]),
        tf.zeros([episodes], tf.bool),
      ),
    )
    return returns, done

  returns, done = play()
  if not np.all(done.numpy()):
    raise RuntimeError(
      f"{int(np.sum(~done.numpy()))} of {episodes} episodes did not end within "
      f"max_steps={max_steps}."
    )
  return returns.numpy()


def _policy_fn(model, greedy: bool, seed: int) -> Callable[[np.ndarray], np.ndarray]:
  counter = [0]

  def policy(observation):
    logits = model(tf.reshape(tf.convert_to_tensor(observation, tf.float32), [1, -1]))
    counter[0] += 1
    return _actions(logits, greedy, tf.constant([seed, counter[0]], tf.int64)).numpy()

  return policy


def evaluate_gymnasium(
  model: keras.Model, env_name: str, episodes: int = 100, greedy: bool = True, seed: int = 0
) -> np.ndarray:
  """Returns of `episodes` episodes on the gymnasium implementation of `env_name`."""
  _check(model, env_name, episodes)
  return envs.run_gymnasium_episodes(
    _policy_fn(model, greedy, seed), GYMNASIUM_IDS[env_name], episodes, seed=seed, tf_env=env_name
  )


def evaluate(
  model: keras.Model,
  env_name: str,
  episodes: int = 100,
  greedy: bool = True,
  seed: int = 0,
  backend: str = "tf",
) -> np.ndarray:
  """Episodic returns of `model`'s policy; `backend` is "tf" or "gymnasium"."""
  if backend not in _BACKENDS:
    raise ValueError(f"backend must be one of {_BACKENDS}, received {backend!r}.")
  fn = evaluate_tf if backend == "tf" else evaluate_gymnasium
  return fn(model, env_name, episodes, greedy, seed)


def _catch_frame(observation: np.ndarray, rows: int, columns: int, cell: int = 32) -> np.ndarray:
  grid = np.asarray(observation, np.float32).reshape(rows, columns)
  image = np.full((rows * cell, columns * cell, 3), 245, np.uint8)
  for r, c in zip(*np.nonzero(grid > 0.5)):
    color = (40, 90, 200) if r == rows - 1 else (220, 60, 40)  # paddle blue, ball red
    image[r * cell + 3 : (r + 1) * cell - 3, c * cell + 3 : (c + 1) * cell - 3] = color
  image[::cell, :] = 200
  image[:, ::cell] = 200
  return image


def _grid_frame(observation: np.ndarray, size: int, cell: int = 32) -> np.ndarray:
  """The grid world's planes (agent, goal, hazards) as a picture."""
  planes = np.asarray(observation, np.float32).reshape(3, size, size)
  image = np.full((size * cell, size * cell, 3), 245, np.uint8)
  for plane, color in ((2, (220, 60, 40)), (1, (60, 170, 80)), (0, (40, 90, 200))):
    for r, c in zip(*np.nonzero(planes[plane] > 0.5)):  # hazard red, goal green, agent blue
      image[r * cell + 3 : (r + 1) * cell - 3, c * cell + 3 : (c + 1) * cell - 3] = color
  image[::cell, :] = 200
  image[:, ::cell] = 200
  return image


# Observation -> picture for the environments drawn as grids, given the gymnasium env.
_FRAMES = {
  "Catch-v0": lambda env, obs: _catch_frame(obs, env.rows, env.columns),
  "GridWorld-v0": lambda env, obs: _grid_frame(obs, env.size),
}


def render_episodes(
  model: keras.Model,
  env_name: str,
  path: str,
  episodes: int = 3,
  greedy: bool = True,
  seed: int = 0,
  fps: int = 30,
) -> List[float]:
  """Writes an animated GIF of `episodes` episodes and returns their returns.

  CartPole frames come from gymnasium's `rgb_array` rendering; Catch and the grid world are
  drawn as their grids.
  """
  _check(model, env_name, episodes)
  if env_name != "CartPole-v1" and env_name not in _FRAMES:
    raise ValueError(
      f"render_episodes draws CartPole-v1 and {sorted(_FRAMES)}; no picture "
      f"is defined for {env_name!r}."
    )
  os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # pygame (CartPole rendering) needs no sound
  os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
  import gymnasium
  from PIL import Image

  policy = _policy_fn(model, greedy, seed)
  render_env = (
    gymnasium.make(GYMNASIUM_IDS[env_name], render_mode="rgb_array")
    if env_name == "CartPole-v1"
    else gymnasium.make(GYMNASIUM_IDS[env_name])
  )
  unwrapped = render_env.unwrapped
  draw = None if env_name == "CartPole-v1" else functools.partial(_FRAMES[env_name], unwrapped)
  frames, returns = [], []
  for episode in range(episodes):
    observation, _ = render_env.reset(seed=seed + episode)
    total, finished = 0.0, False
    while not finished:
      frames.append(render_env.render() if draw is None else draw(observation))
      observation, reward, terminated, truncated, _ = render_env.step(int(policy(observation)[0]))
      total += float(reward)
      finished = terminated or truncated
    if draw is not None:  # hold the last picture a moment
      frames.extend([draw(observation)] * 5)
    returns.append(total)
  render_env.close()
  images = [Image.fromarray(np.asarray(f, np.uint8)) for f in frames]
  images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
  return returns
