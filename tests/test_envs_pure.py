"""Pure step functions under XLA, seeding, retracing, invalid actions, TFEnvironment, registry."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.environments import tf_environment
from tf_agents.trajectories import time_step as ts

from tf_equirl.envs import (
  BatchedEnvironment,
  CartPole,
  Catch,
  EnvState,
  GridWorld,
  list_envs,
  make,
  register,
)

FIRST, MID, LAST = (int(v) for v in (ts.StepType.FIRST, ts.StepType.MID, ts.StepType.LAST))


def _actions(env, observation, t):
  """Deterministic actions from the step, the batch index and a coarse observation feature."""
  index = tf.range(tf.shape(observation)[0])
  feature = tf.cast(observation[:, 0] > 0, tf.int32)
  return tf.math.floormod(t // 3 + index + feature, env.num_actions)


def _rollout(env, seed, steps):
  """Runs `steps` pure steps inside one tf.while_loop; returns stacked time steps."""
  state, step = env.pure_reset(seed)
  arrays = [tf.TensorArray(t.dtype, size=steps) for t in step]

  def body(t, state, step, arrays):
    state, step = env.pure_step(state, _actions(env, step.observation, t))
    return t + 1, state, step, [a.write(t, x) for a, x in zip(arrays, step)]

  _, state, _, arrays = tf.while_loop(
    lambda t, *_: t < steps, body, (tf.constant(0), state, step, arrays)
  )
  return state, ts.TimeStep(*[a.stack() for a in arrays])


@pytest.mark.parametrize(
  "make_env,steps",
  [
    (lambda: CartPole(batch_size=8), 120),
    (lambda: Catch(batch_size=8), 40),
    (lambda: GridWorld(batch_size=8), 60),
  ],
)
def test_xla_while_loop_matches_eager(make_env, steps):
  env = make_env()
  compiled = tf.function(lambda seed: _rollout(env, seed, steps), jit_compile=True)
  seed = tf.constant(5, tf.int64)
  xla_state, xla = compiled(seed)
  eager_state, eager = _rollout(env, seed, steps)
  np.testing.assert_array_equal(xla.step_type.numpy(), eager.step_type.numpy())
  np.testing.assert_array_equal(xla.reward.numpy(), eager.reward.numpy())
  np.testing.assert_array_equal(xla.discount.numpy(), eager.discount.numpy())
  # XLA's sin/cos may differ from the eager kernels in the last bit.
  np.testing.assert_allclose(xla.observation.numpy(), eager.observation.numpy(), atol=1e-5)
  np.testing.assert_array_equal(xla_state.key.numpy(), eager_state.key.numpy())
  assert (xla.step_type.numpy() == FIRST).sum() >= 8  # auto-resets happened in the loop

  # Same seed: same trajectory; different seed: different resets. No retracing.
  _, again = compiled(seed)
  for a, b in zip(again, xla):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  _, other = compiled(tf.constant(6, tf.int64))
  assert not np.array_equal(other.observation.numpy()[0], xla.observation.numpy()[0])
  assert compiled.experimental_get_tracing_count() == 1


def test_pure_step_does_not_retrace_and_has_no_variables():
  env = CartPole(batch_size=4)
  step_fn = tf.function(env.pure_step, jit_compile=True)
  reset_fn = tf.function(env.pure_reset, jit_compile=True)
  state, step = reset_fn(tf.constant(1))
  state, _ = step_fn(state, tf.constant([0, 1, 0, 1]))
  state, _ = step_fn(state, tf.constant([1, 1, 0, 0]))
  # Resets are bit-identical in XLA and eager (integer RNG bits, one rounding).
  np.testing.assert_array_equal(
    reset_fn(tf.constant(2))[1].observation.numpy(),
    env.pure_reset(tf.constant(2))[1].observation.numpy(),
  )
  assert step_fn.experimental_get_tracing_count() == 1
  assert reset_fn.experimental_get_tracing_count() == 1
  graph = step_fn.get_concrete_function(state, tf.constant([0, 1, 0, 1])).graph
  assert not graph.variables
  assert isinstance(state, EnvState)


def test_keys_seeds_and_reproducibility():
  env = Catch(batch_size=32)
  first = lambda s: env.pure_reset(s)[1].observation.numpy()
  np.testing.assert_array_equal(first(3), first(3))
  assert not np.array_equal(first(3), first(4))
  key = tf.random.experimental.stateless_split(tf.constant([1, 2], tf.int64), 2)
  assert not np.array_equal(first(key[0]), first(key[1]))
  np.testing.assert_array_equal(
    first(tf.constant([1, 2], tf.int32)), first(tf.constant([1, 2], tf.int64))
  )
  np.testing.assert_array_equal(first(3), first(tf.constant(3)))
  # Resets within one trajectory use fresh draws every time.
  state, _ = env.pure_reset(0)
  resets = []
  for _ in range(3):
    for _ in range(10):
      state, step = env.pure_step(state, tf.ones([32], tf.int32))
    assert np.all(step.step_type.numpy() == FIRST)
    resets.append(step.observation.numpy())
  assert not np.array_equal(resets[0], resets[1])
  with pytest.raises(ValueError, match="key of shape \\[2\\]"):
    env.pure_reset(tf.constant([1, 2, 3]))
  with pytest.raises(ValueError, match="integer seed"):
    env.pure_reset(1.5)


@pytest.mark.parametrize(
  "bad,match",
  [
    (
      [0, 2, 1],
      r"invalid action \[2\] at batch index \[1\]; valid actions are integers " r"in \[0, 1\]",
    ),
    ([-1, 0, 1], r"invalid action \[-1\] at batch index \[0\]"),
    (
      np.array([0.0, 1.0, 1.0], np.float32),
      r"invalid action of dtype float32 \(action=\[0.0, "
      r"1.0, 1.0\]\); expected integer actions of shape "
      r"\[3\] with values in \[0, 1\]",
    ),
    (
      np.array([[0], [1], [1]]),
      r"invalid action of shape \(3, 1\).*expected integer actions " r"of shape \[3\]",
    ),
    ([0, 1], r"invalid action of shape \(2,\)"),
    (1, r"invalid action of shape \(\)"),
    (True, r"invalid action True"),
  ],
)
def test_invalid_actions_raise_eagerly(bad, match):
  env = CartPole(batch_size=3)
  state, _ = env.pure_reset(0)
  with pytest.raises(ValueError, match=match):
    env.pure_step(state, bad)
  with pytest.raises(ValueError, match=match):
    env.step(bad)


def test_invalid_actions_in_graphs():
  env = Catch(batch_size=2)
  state, _ = env.pure_reset(0)
  graph_step = tf.function(env.pure_step)
  with pytest.raises(
    tf.errors.InvalidArgumentError,
    match=r"(?s)valid actions are integers in \[0, 2\], received action =.*3",
  ):
    graph_step(state, tf.constant([0, 3]))
  with pytest.raises(ValueError, match="dtype float32"):  # static checks at trace time
    graph_step(state, tf.constant([0.0, 1.0]))
  tf_env_step = tf.function(env.step)
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"valid actions are integers"):
    tf_env_step(tf.constant([5, 0]))
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"action =\] \[0 4294967296\]"):
    graph_step(state, tf.constant([0, 2**32], tf.int64))  # no wrap-around to 0 in int32
  # XLA compiles Assert to a no-op (TF 2.15); the bad element's step is NaN instead.
  xla_step = tf.function(env.pure_step, jit_compile=True)
  xla_step(state, tf.constant([1, 1]))
  with pytest.raises(ValueError, match=r"invalid action \[7\] at batch index \[1\]"):
    tf.function(lambda s: env.pure_step(s, tf.constant([1, 7])), jit_compile=True)(state)
  _, step = xla_step(state, tf.constant([1, 7]))
  assert np.all(np.isfinite(step.observation.numpy()[0])) and np.isfinite(step.reward[0])
  assert np.all(np.isnan(step.observation.numpy()[1])) and np.isnan(step.reward[1])


def test_tf_environment_api():
  env = CartPole(batch_size=5, seed=1)
  assert isinstance(env, tf_environment.TFEnvironment) and env.batched
  assert env.batch_size == 5
  assert env.action_spec().dtype == tf.int32 and env.action_spec().maximum == 1
  assert env.observation_spec().shape == (4,)
  assert env.time_step_spec().observation == env.observation_spec()
  first = env.reset()
  np.testing.assert_array_equal(first.step_type.numpy(), [FIRST] * 5)
  for t in (first.step_type, first.reward, first.discount, first.observation):
    assert t.shape[0] == 5
  np.testing.assert_array_equal(
    env.current_time_step().observation.numpy(), first.observation.numpy()
  )
  # Successive resets start different episodes.
  assert not np.array_equal(env.reset().observation.numpy(), first.observation.numpy())

  step = tf.function(env.step)  # variables carry the state across graph calls
  seen_last = np.zeros(5, bool)
  for _ in range(60):
    was_last = env.current_time_step().step_type.numpy() == LAST
    time_step = step(tf.zeros([5], tf.int32))
    np.testing.assert_array_equal(time_step.step_type.numpy()[was_last], FIRST)
    seen_last |= was_last
  assert seen_last.all()  # always pushing left ends every episode within 60 steps
  assert env.state.step_count.shape == (5,)


def test_make_registry_and_swapped_dynamics():
  assert {"CartPole-v1", "Catch-v0"} <= set(list_envs())
  env = make("Catch-v0", batch_size=3, seed=2, flat_observation=False)
  assert isinstance(env, Catch) and env.batch_size == 3
  assert env.observation_spec().shape == (10, 5)
  with pytest.raises(ValueError, match=r"Unknown environment 'Pong'.*'CartPole-v1'.*'Catch-v0'"):
    make("Pong")
  with pytest.raises(ValueError, match="already registered"):
    register("CartPole-v1", CartPole)

  # A learned model replaces the physics; the bookkeeping stays the env's.
  frozen = make("CartPole-v1", batch_size=2).with_dynamics(physics=lambda s, a: s * 0.5)
  assert isinstance(frozen, BatchedEnvironment)
  state, first = frozen.pure_reset(0)
  state, step = frozen.pure_step(state, [0, 1])
  np.testing.assert_allclose(step.observation.numpy(), first.observation.numpy() * 0.5)
  np.testing.assert_array_equal(step.step_type.numpy(), [MID, MID])
  always_over = CartPole(outcome=lambda s, a, n: (tf.fill([1], 2.0), tf.fill([1], True)))
  state, _ = always_over.pure_reset(0)
  _, step = always_over.pure_step(state, [0])
  assert step.step_type.numpy()[0] == LAST and step.reward.numpy()[0] == 2.0
  with pytest.raises(ValueError, match="batch_size must be a positive integer"):
    CartPole(batch_size=0)


def test_works_with_a_tf_agents_driver():
  from tf_agents.drivers import dynamic_step_driver  # pylint: disable=g-import-not-at-top
  from tf_agents.policies import random_tf_policy  # pylint: disable=g-import-not-at-top

  env = Catch(batch_size=4, seed=3)
  policy = random_tf_policy.RandomTFPolicy(env.time_step_spec(), env.action_spec())
  rewards = []
  driver = dynamic_step_driver.DynamicStepDriver(
    env, policy, observers=[lambda traj: rewards.append(traj.reward)], num_steps=40
  )
  time_step, _ = tf.function(driver.run, autograph=False)()
  assert time_step.observation.shape == (4, 50)
  assert len(rewards) == 1  # traced once: the loop ran inside the graph
  np.testing.assert_array_equal(
    env.current_time_step().step_type.numpy(), time_step.step_type.numpy()
  )


class _WideStartCartPole(CartPole):
  """A subclass with its own reset distribution (as a Dyna planning environment may have)."""

  def _initial_physics(self, key, batch_size):
    return 4.0 * super()._initial_physics(key, batch_size)


@pytest.mark.parametrize(
  "make_env",
  [
    lambda: CartPole(batch_size=6, max_episode_steps=9),  # truncations and terminations
    lambda: Catch(batch_size=6),
    lambda: CartPole(batch_size=6).with_dynamics(physics=lambda s, a: s * 1.5 + 0.01),
    lambda: _WideStartCartPole(batch_size=6, max_episode_steps=12),
    lambda: GridWorld(batch_size=6, max_episode_steps=7),
  ],
  ids=["cartpole", "catch", "cartpole_with_dynamics", "subclass_reset", "gridworld"],
)
def test_step_and_reset_equals_a_step_then_the_reset_step(make_env):
  env = make_env()
  state, step = env.pure_reset(11)
  observation = step.observation
  ended_total = truncated_total = 0
  for t in range(30):
    action = _actions(env, observation, t)
    new_state, new_step, new_observation = env.pure_step_and_reset(state, action)
    # The reference: pure_step, then one more pure_step that resets the ended elements.
    stepped, step = env.pure_step(state, action)
    reset, first = env.pure_step(stepped, tf.zeros_like(action))
    last = step.step_type.numpy() == LAST
    assert np.array_equal(stepped.done.numpy(), last)
    for got, want in zip(step, new_step):
      np.testing.assert_array_equal(got.numpy(), want.numpy())
    for field in ("physics", "step_count", "done"):
      want = np.where(
        last.reshape([-1] + [1] * (getattr(reset, field).shape.rank - 1)),
        getattr(reset, field).numpy(),
        getattr(stepped, field).numpy(),
      )
      np.testing.assert_array_equal(getattr(new_state, field).numpy(), want)
    np.testing.assert_array_equal(new_state.key.numpy(), reset.key.numpy())
    want_obs = np.where(last[:, None], first.observation.numpy(), step.observation.numpy())
    np.testing.assert_array_equal(new_observation.numpy(), want_obs)
    assert not new_state.done.numpy().any()
    ended_total += last.sum()
    truncated_total += (last & (step.discount.numpy() == 1.0)).sum()
    state, observation = new_state, new_observation
  assert ended_total >= 6  # episodes ended and were restarted inside the 30 steps
  if env.max_episode_steps is not None and env.max_episode_steps < 30:
    assert truncated_total > 0
