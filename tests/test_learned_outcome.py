"""World models that learn the reward and the termination (`TransitionSpec(outcome=True)`,
`DynaConfig.learned_outcome`): the outcome columns are invariant where the transition is
equivariant, their loss and reading, planning on them, and Dyna learning Catch's rules."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.agents.dyna import Dyna, ModelEnvironment, default_dyna_config
from tf_equirl.groups import Representation
from tf_equirl.models import (
  EquivariantTransitionModel,
  MLPTransitionModel,
  TrainConfig,
  TransitionSpec,
  TransitionTrainer,
)
from tf_equirl.testing import assert_equivariant

keras = tf.keras


def _spec(name):
  env = envs.make(name, batch_size=8, seed=0)
  # The grid world's actions (four moves and a stay) need one-hot codes under D4.
  encoding = "one_hot" if name == "GridWorld-v0" else "signed"
  return env, TransitionSpec.for_env(env, action_encoding=encoding, outcome=True)


@pytest.mark.parametrize("name", ["CartPole-v1", "Catch-v0", "GridWorld-v0"])
@pytest.mark.parametrize("pool", ["mean", "proximal"])
def test_the_outcome_is_invariant_where_the_transition_is_equivariant(name, pool):
  """C2 (CartPole, Catch) and D4 (the grid world): T(gs, ga) = g T(s, a) for mean pooling
  and O(gs, ga) = O(s, a) for both pools, before and after a training step."""
  keras.utils.set_random_seed(4)
  env, spec = _spec(name)
  assert spec.prediction_dim == spec.output_dim + 2
  model = EquivariantTransitionModel(pool=pool).build(spec)
  assert model.output_shape[-1] == spec.prediction_dim
  rng = np.random.default_rng(0)
  obs = rng.normal(size=(256, spec.state_dim)).astype(np.float32)
  act = rng.integers(0, spec.num_actions, 256).astype(np.int32)
  reps = [spec.symmetry.state_rep, spec.symmetry.action_rep]
  outcome = lambda inputs: model(inputs)[:, spec.output_dim :]  # noqa: E731
  invariant = Representation.trivial(spec.symmetry.group, 2)
  for step in range(2):
    assert_equivariant(outcome, [obs, act], reps, invariant, atol=1e-5)
    if pool == "mean":
      assert_equivariant(model, [obs, act], reps, spec.prediction_rep, atol=1e-5)
    if step == 0:  # one Adam step on the outcome's loss too, then check again
      trainer = TransitionTrainer(model, spec, TrainConfig(jit_compile=False))
      trainer.train_step(
        {
          "obs": tf.constant(obs),
          "action": tf.constant(act),
          "next_obs": tf.constant(obs[::-1].copy()),
          "terminated": tf.constant(rng.uniform(size=256) < 0.3),
          "reward": tf.constant(rng.normal(size=256).astype(np.float32)),
        }
      )
  # The outcome head really moved: invariance is not a zero output.
  assert float(tf.math.reduce_std(outcome([obs, act])[:, 0])) > 1e-4


def test_outcome_loss_reading_and_errors():
  env, spec = _spec("CartPole-v1")
  plain = TransitionSpec.for_env(env)
  rng = np.random.default_rng(1)
  pred = rng.normal(size=(5, spec.prediction_dim)).astype(np.float32)
  nxt = rng.normal(size=(5, 4)).astype(np.float32)
  done = np.array([0, 1, 0, 0, 1], np.float32)
  reward = np.array([1, 1, 0.5, -1, 2], np.float32)
  logit, r_hat = pred[:, 4], pred[:, 5]
  bce = np.maximum(logit, 0) - logit * done + np.log1p(np.exp(-np.abs(logit)))
  want = ((1 - done) * np.sum((pred[:, :4] - nxt) ** 2, -1) + bce + (r_hat - reward) ** 2).mean()
  got = float(spec.loss(pred, nxt, done, reward=reward))
  np.testing.assert_allclose(got, want, rtol=1e-5)
  # The transition's own loss and observation ignore the outcome's columns.
  np.testing.assert_allclose(
    spec.per_transition_loss(pred, nxt), plain.per_transition_loss(pred[:, :4], nxt), rtol=1e-6
  )
  np.testing.assert_array_equal(spec.to_observation(pred), pred[:, :4])
  r, terminated = spec.outcome_of(pred)
  np.testing.assert_array_equal(r, r_hat)
  np.testing.assert_array_equal(terminated, logit > 0)
  with pytest.raises(ValueError, match=r"reward=\[batch\]"):
    spec.loss(pred, nxt, done)
  with pytest.raises(ValueError, match="outcome=False"):
    plain.outcome_of(pred[:, :4])
  with pytest.raises(ValueError, match="outcome must be True or False"):
    TransitionSpec(spec.symmetry, outcome=1)


def _constant_outcome(model, logit, reward):
  """Sets the outcome head to predict `(logit, reward)` everywhere."""
  head = model.get_layer("outcome")
  kernel, _ = head.get_weights()
  head.set_weights([np.zeros_like(kernel), np.array([logit, reward], np.float32)])


def test_planning_uses_the_models_reward_and_termination_not_the_rules():
  keras.utils.set_random_seed(0)
  env, spec = _spec("Catch-v0")
  model = MLPTransitionModel().build(spec)
  action = tf.ones([env.batch_size], tf.int32)
  for logit, reward in ((6.0, 0.25), (-6.0, -0.5)):
    _constant_outcome(model, logit, reward)
    planner = ModelEnvironment(env, model, spec)
    state, _ = planner.pure_reset(tf.constant([0, 1], tf.int64))
    step = tf.function(planner.pure_step, jit_compile=True)
    _, time_step = step(state, action)
    np.testing.assert_allclose(time_step.reward, np.full(env.batch_size, reward), atol=1e-6)
    # The first step of a Catch episode never ends it by the game's rule; here the model
    # says it does (logit > 0), or that it does not.
    assert bool(np.all(time_step.is_last())) == (logit > 0)


def test_dyna_config_and_driver_refuse_what_cannot_learn_the_outcome():
  ppo = dict(num_envs=4, num_steps=16, total_steps=128)
  for fields in (dict(mode="supervised"), dict(mode="online", world_model="true")):
    with pytest.raises(ValueError, match="learned_outcome=True"):
      default_dyna_config("Catch-v0", ppo_overrides=ppo, learned_outcome=True, **fields)
  with pytest.raises(ValueError, match="learned_outcome must be True or False"):
    default_dyna_config("Catch-v0", ppo_overrides=ppo, mode="online", learned_outcome="yes")
  config = default_dyna_config(
    "Catch-v0",
    ppo_overrides=ppo,
    mode="online",
    world_model="mlp",
    learned_outcome=True,
    dyna_iterations=2,
  )
  plain = MLPTransitionModel().build(TransitionSpec.for_env(envs.make("Catch-v0")))
  with pytest.raises(ValueError, match="learned outcome .*needs width 57"):
    Dyna(config, world_model=plain)


@pytest.mark.parametrize("world_model", ["mlp", "gcnn"])
def test_online_dyna_learns_catchs_reward_and_termination(world_model):
  """Trained on the real transitions only, the model predicts on fresh real Catch steps
  whether the step ends the episode and its reward (+1 caught, -1 missed, 0 otherwise)."""
  ppo = dict(num_envs=8, num_steps=32, total_steps=8192, num_minibatches=2, num_epochs=2)
  config = default_dyna_config(
    "Catch-v0",
    ppo_overrides=ppo,
    mode="online",
    world_model=world_model,
    learned_outcome=True,
    dyna_iterations=8,
    model_epochs=5,
    model_buffer="all",
  )
  dyna = Dyna(config)
  result = dyna.train(seed=0)
  loss = result.extras["model_loss"]
  assert loss[-1] < 0.1 * loss[0]
  # Fresh real transitions under random actions, from other seeds than training saw.
  env = envs.make("Catch-v0", batch_size=256, seed=7)
  state, time_step = env.pure_reset(tf.constant([7, 7], tf.int64))
  rng = np.random.default_rng(7)
  obs, actions, rewards, ends = [], [], [], []
  for _ in range(env.rows - 1):
    action = tf.constant(rng.integers(0, env.num_actions, env.batch_size), tf.int32)
    obs.append(time_step.observation)
    actions.append(action)
    state, time_step = env.pure_step(state, action)
    rewards.append(time_step.reward)
    ends.append(time_step.is_last())
  obs, actions = tf.concat(obs, 0), tf.concat(actions, 0)
  rewards, ends = tf.concat(rewards, 0), tf.concat(ends, 0)
  assert 0 < float(tf.reduce_mean(tf.cast(ends, tf.float32))) < 0.2
  assert set(np.unique(rewards.numpy())) == {-1.0, 0.0, 1.0}
  prediction = dyna.world_model([obs, actions])
  metrics = dyna.spec.outcome_metrics(prediction, ends, rewards)
  assert float(metrics["termination_accuracy"]) > 0.99
  assert float(metrics["reward_rms"]) < 0.25
  # Caught or missed: the last steps' predicted rewards have the sign of the real ones (a
  # model that knew only when episodes end would get this right about as often as it is
  # caught or missed, far below this).
  predicted, _ = dyna.spec.outcome_of(prediction)
  last = ends.numpy()
  signs = np.sign(predicted.numpy()[last]) == rewards.numpy()[last]
  assert signs.mean() > 0.95, signs.mean()


def test_a_world_model_with_outcome_saves_and_reloads(tmp_path):
  keras.utils.set_random_seed(1)
  _, spec = _spec("Catch-v0")
  model = EquivariantTransitionModel(pool="proximal").build(spec)
  path = str(tmp_path / "world_model.keras")
  model.save(path)
  again = keras.models.load_model(path)
  rng = np.random.default_rng(0)
  obs = rng.uniform(size=(6, spec.state_dim)).astype(np.float32)
  act = rng.integers(0, spec.num_actions, 6).astype(np.int32)
  np.testing.assert_array_equal(again([obs, act]), model([obs, act]))
  assert again.output_shape[-1] == spec.prediction_dim
