"""Symmetry-breaking variants: strength 0 is the original, and the asymmetry is as documented."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.envs import breaking
from tf_equirl.envs.cartpole import FORCE_MAG, cartpole_dynamics, cartpole_physics
from tf_equirl.envs.dmc import dmc_available

VARIANTS = breaking.BREAKINGS


def _rollout(env, seed, steps, jit=False):
  """All time steps and physics states of `steps` random-action steps (fixed action stream)."""
  actions = np.random.default_rng(seed).integers(0, env.num_actions, (steps, env.batch_size))

  def run(acts):
    state, _ = env.pure_reset(seed)

    def body(carry, act):
      state, _ = carry
      state, ts = env.pure_step(state, act)
      row = tf.concat(
        [
          tf.cast(state.physics, tf.float32),
          tf.reshape(ts.observation, [env.batch_size, -1]),
          ts.reward[:, None],
          ts.discount[:, None],
          tf.cast(ts.step_type, tf.float32)[:, None],
        ],
        axis=1,
      )
      return state, row

    width = 3 + env.observation_spec().shape.num_elements() + state.physics.shape[1]
    _, rows = tf.scan(body, acts, initializer=(state, tf.zeros([env.batch_size, width])))
    return rows

  fn = tf.function(run, jit_compile=True) if jit else run
  return fn(tf.constant(actions, tf.int32)).numpy()


@pytest.mark.parametrize("name,steps", [("CartPole-v1", 300), ("Catch-v0", 40)])
@pytest.mark.parametrize("variant", VARIANTS)
def test_strength_zero_is_the_original_transition_by_transition(name, steps, variant):
  original = envs.make(name, batch_size=8)
  broken = envs.make(name, batch_size=8, breaking=variant, strength=0.0)
  by_name = envs.make(f"{name}:{variant}:0")
  assert by_name.breaking == variant and by_name.strength == 0.0
  a = _rollout(original, 3, steps)
  b = _rollout(broken, 3, steps)
  assert np.array_equal(a, b)  # exactly, every state, observation, reward and step type
  # Under XLA too (XLA may round CartPole's float physics differently from eager code, so
  # compiled is compared with compiled).
  assert np.array_equal(
    _rollout(original, 3, steps, jit=True), _rollout(broken, 3, steps, jit=True)
  )
  if name == "CartPole-v1":
    assert np.mean(a[:, :, -1] == 0) > 0.01  # resets happened inside the compared stretch


def _cartpole_states(n=512, seed=0):
  rng = np.random.default_rng(seed)
  s = rng.uniform([-2.4, -2, -0.2, -2], [2.4, 2, 0.2, 2], (n, 4)).astype(np.float32)
  return tf.constant(s), tf.constant(rng.integers(0, 2, n), tf.int32)


@pytest.mark.parametrize(
  "variant,strength", [("global", 0.3), ("reflect", 1.0), ("reflect", 0.25), ("repeat", 1.0)]
)
def test_cartpole_asymmetry_is_as_documented(variant, strength):
  env = envs.make("CartPole-v1", batch_size=1, breaking=variant, strength=strength)
  s, a = _cartpole_states()
  push = np.where(a.numpy() == 1, FORCE_MAG, -FORCE_MAG).astype(np.float32)
  right = s.numpy()[:, 0] > 0
  if variant == "global":
    force = push + strength * FORCE_MAG
  elif variant == "reflect":
    force = np.where(right, (1 - 2 * strength) * push, push)
  else:
    force = np.where(right, (1 + strength) * push, push)
  step = env.physics(s, a).numpy()
  np.testing.assert_array_equal(step, cartpole_dynamics(s, tf.constant(force)).numpy())
  original = cartpole_physics(s, a).numpy()
  changed = np.any(step != original, axis=1)
  # Mirror test: stepping the mirrored state with the mirrored action vs the mirrored step.
  mirror_error = np.abs(env.physics(-s, 1 - a).numpy() + step).max(axis=1)
  if variant == "global":
    assert changed.all() and (mirror_error > 1e-4).all()
  else:  # only right of the centre, and the mirror images of those states
    assert np.array_equal(changed, right)
    assert ((mirror_error > 1e-4) == (s.numpy()[:, 0] != 0)).all()
  if variant == "reflect" and strength == 1.0:  # the push is reversed
    np.testing.assert_array_equal(step[right], cartpole_physics(s, 1 - a).numpy()[right])


def _catch_states(columns=5):
  """Every (ball column, paddle column, action) with the ball in row 3."""
  grid = np.array([(3, b, p) for b in range(columns) for p in range(columns)], np.int32)
  states = np.repeat(grid, 3, axis=0)
  actions = np.tile(np.arange(3), len(grid)).astype(np.int32)
  return tf.constant(states), tf.constant(actions)


@pytest.mark.parametrize("variant", VARIANTS)
def test_catch_asymmetry_is_as_documented(variant):
  s, a = _catch_states()
  n = s.shape[0]
  env = envs.make("Catch-v0", batch_size=n, breaking=variant, strength=1.0)
  state, _ = env.pure_reset(0)
  state = state._replace(physics=s)
  step = env.pure_step(state, a)[0].physics.numpy()
  original = envs.catch_physics(s, a).numpy()
  ball, paddle, move = s.numpy()[:, 1], s.numpy()[:, 2], a.numpy() - 1
  if variant == "global":  # the ball drifts one column right, clipped; the paddle as before
    np.testing.assert_array_equal(step[:, 1], np.minimum(ball + 1, 4))
    np.testing.assert_array_equal(step[:, [0, 2]], original[:, [0, 2]])
  else:
    left = paddle < 2
    factor = -1 if variant == "reflect" else 2
    expect = np.where(left, np.clip(paddle + factor * move, 0, 4), original[:, 2])
    np.testing.assert_array_equal(step[:, 2], expect)
    np.testing.assert_array_equal(step[:, :2], original[:, :2])
    changed = np.any(step != original, axis=1)
    assert not changed[~left].any() and changed[left].sum() >= 4  # only left of the centre


@pytest.mark.parametrize("variant", VARIANTS)
def test_catch_breaking_happens_with_its_probability_and_xla_agrees(variant):
  n = 4000
  env = envs.make("Catch-v0", batch_size=n, breaking=variant, strength=0.3)
  # Paddle at column 0 pressing left (reflect: moves right) or right (repeat: moves 2).
  s = tf.constant(np.tile([[3, 2, 0]], (n, 1)), tf.int32)
  a = tf.fill([n], 0 if variant == "reflect" else 2)
  state, _ = env.pure_reset(11)
  state = state._replace(physics=s)
  eager = env.pure_step(state, a)[0].physics.numpy()
  xla = tf.function(env.pure_step, jit_compile=True)(state, a)[0].physics.numpy()
  np.testing.assert_array_equal(eager, xla)
  moved = {"global": eager[:, 1] == 3, "reflect": eager[:, 2] == 1, "repeat": eager[:, 2] == 2}[
    variant
  ]
  rate = moved.mean()
  assert abs(rate - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n), rate
  # The next step draws new coins: the key advances.
  again = env.pure_step(env.pure_step(state, a)[0]._replace(physics=s), a)[0].physics.numpy()
  assert not np.array_equal(again, eager)


def test_bad_input_fails_clearly():
  with pytest.raises(
    ValueError, match=r"strength must be a finite number >= 0, received " r"strength=-0.1"
  ):
    envs.make("CartPole-v1", breaking="global", strength=-0.1)
  with pytest.raises(
    ValueError,
    match=r"unknown symmetry-breaking variant breaking='tilt'; "
    r"expected one of \('global', 'reflect', 'repeat'\)",
  ):
    envs.make("Catch-v0", breaking="tilt", strength=0.5)
  with pytest.raises(ValueError, match=r"takes a strength in \[0, 1\].*received strength=1.5"):
    envs.make("Catch-v0:global:1.5")
  with pytest.raises(ValueError, match="given without a breaking variant"):
    envs.make("CartPole-v1", strength=0.5)
  with pytest.raises(ValueError, match="must read '<env>:<breaking>:<strength>'"):
    envs.make("CartPole-v1:global")
  with pytest.raises(ValueError, match="strength 'strong' is not a number"):
    envs.make("CartPole-v1:global:strong")
  with pytest.raises(ValueError, match="names its variant and also received"):
    envs.make("CartPole-v1:global:0.5", strength=0.1)
  with pytest.raises(ValueError, match="Unknown environment 'Pong'"):
    envs.make("Pong:global:0.5")


@pytest.mark.parametrize("name", ["CartPole-v1", "Catch-v0"])
def test_with_dynamics_keeps_the_breaking_unless_the_physics_is_replaced(name):
  env = envs.make(name, batch_size=4, breaking="reflect", strength=1.0)
  kept = env.with_dynamics(outcome=env.outcome)
  assert (kept.breaking, kept.strength) == ("reflect", 1.0)
  plain = envs.make(name, batch_size=4)
  replaced = env.with_dynamics(physics=plain.physics)
  assert replaced.breaking is None
  state = plain.pure_reset(0)[0]
  physics = (
    tf.constant([[0.5, 0.0, 0.0, 0.0]] * 4)
    if name == "CartPole-v1"
    else tf.constant([[3, 2, 0]] * 4)
  )
  state = state._replace(physics=physics)
  action = tf.constant([0, 0, 0, 0])
  assert np.array_equal(
    replaced.pure_step(state, action)[0].physics, plain.pure_step(state, action)[0].physics
  )
  assert not np.array_equal(
    kept.pure_step(state, action)[0].physics, plain.pure_step(state, action)[0].physics
  )


@pytest.mark.parametrize(
  "name", [n for n in envs.list_envs() if not n.startswith("dm_control/") or dmc_available()]
)
def test_with_dynamics_copies_every_environment_with_its_configuration(name):
  """`with_dynamics(outcome=...)` with the environment's own outcome is the same environment:
  the same class, configuration and steps, for every registered environment."""
  env = envs.make(name, batch_size=3, max_episode_steps=7)
  copy = env.with_dynamics(outcome=env.outcome)
  assert type(copy) is type(env) and copy._config == env._config  # pylint: disable=protected-access
  state, _ = env.pure_reset(5)
  if env.continuous_actions:
    action = tf.constant(np.linspace(-1.0, 1.0, 3 * env.action_dim), tf.float32)
    action = tf.reshape(action, [3, env.action_dim])
  else:
    action = tf.constant([0, 1, 0], tf.int32) % env.num_actions
  for _ in range(8):  # past the step limit: the resets agree too
    (state, step), (copy_state, copy_step) = (
      env.pure_step(state, action),
      copy.pure_step(state, action),
    )
    np.testing.assert_array_equal(copy_state.physics, state.physics)
    np.testing.assert_array_equal(copy_step.observation, step.observation)
    np.testing.assert_array_equal(copy_step.reward, step.reward)


def test_with_dynamics_names_a_subclass_that_keeps_no_configuration():
  class Bare(envs.CartPole):
    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      del self._config

  with pytest.raises(NotImplementedError, match=r"Bare.with_dynamics: keep the constructor"):
    Bare(batch_size=2).with_dynamics(outcome=envs.cartpole_outcome)
