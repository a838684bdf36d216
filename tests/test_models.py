"""Transition models (thesis 4.7): specs, losses, equivariance, training, data, reloading."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.groups import MDPSymmetry, Representation, cyclic
from tf_equirl.layers import ActionEncoding, encoding_representation, signed_action_codes
from tf_equirl.layers.distances import get_distance
from tf_equirl.models import (
  DataConfig,
  EquivariantTransitionModel,
  MLPTransitionModel,
  TrainConfig,
  TransitionSpec,
  TransitionTrainer,
  as_tf_dataset,
  build_transition_model,
  collect_transitions,
  evaluate,
  load_split,
  make_datasets,
  model_dynamics,
  predict_observation,
  predicted_step,
  save_split,
)
from tf_equirl.models.analysis import all_state_action_pairs, equivariance_rate
from tf_equirl.params import count_params
from tf_equirl.testing import assert_equivariant

keras = tf.keras
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def cartpole():
  env = envs.make("CartPole-v1", batch_size=8, seed=0)
  return env, TransitionSpec.for_env(env)


@pytest.fixture(scope="module")
def catch():
  env = envs.make("Catch-v0", batch_size=8, seed=0)
  return env, TransitionSpec.for_env(env)


def _cartpole_states(n, seed=0):
  rng = np.random.default_rng(seed)
  obs = (rng.uniform(-1, 1, (n, 4)) * [2.4, 2.0, 0.2, 2.0]).astype(np.float32)
  return obs, rng.integers(0, 2, n).astype(np.int32)


# ------------------------------------------------------------------------------- specs
def test_specs_derive_representations_from_the_symmetry(cartpole, catch):
  _, spec = cartpole
  assert (spec.kind, spec.output_dim, spec.input_rep.dim) == ("continuous", 4, 5)
  # {0, 1} -> {-1, 1}; the mirror swaps the pushes, so the code flips sign (thesis 4.7.5.1).
  np.testing.assert_array_equal(spec.action_codes[:, 0], [-1.0, 1.0])
  np.testing.assert_array_equal(spec.action_rep_encoded.matrices[:, 0, 0], [1.0, -1.0])
  env, spec = catch
  assert (spec.kind, spec.grid_shape, spec.output_dim) == ("grid", (10, 5), 55)
  flip = spec.output_rep.permutation[1]
  np.testing.assert_array_equal(flip[50:], [54, 53, 52, 51, 50])  # paddle columns mirrored
  np.testing.assert_array_equal(flip[:50], env.symmetry.state_rep.permutation[1])


def test_bad_spec_and_model_arguments_fail_clearly(cartpole, catch):
  sym = cartpole[1].symmetry
  with pytest.raises(ValueError, match="kind"):
    TransitionSpec(sym, kind="image")
  with pytest.raises(ValueError, match="grid_shape"):
    TransitionSpec(catch[1].symmetry, kind="grid", grid_shape=(7, 5))
  with pytest.raises(ValueError, match="action_encoding"):
    TransitionSpec(sym, action_encoding="binary")
  with pytest.raises(ValueError, match="pool"):
    EquivariantTransitionModel(pool="max")
  with pytest.raises(ValueError, match="model must be"):
    build_transition_model("cnn", cartpole[1])
  with pytest.raises(ValueError, match="mask_terminal"):
    TransitionTrainer(
      MLPTransitionModel().build(catch[1]), catch[1], TrainConfig(mask_terminal=False)
    )
  # Signed codes need the symmetry to reverse the actions; a 3-cycle does not.
  c3 = cyclic(3)
  rotate = Representation.from_permutations(c3, [[0, 1, 2], [1, 2, 0], [2, 0, 1]])
  with pytest.raises(ValueError, match="one-hot"):
    encoding_representation(rotate, signed_action_codes(3))
  spec = TransitionSpec(
    MDPSymmetry(c3, Representation.regular(c3), rotate), action_encoding="one_hot"
  )
  assert spec.action_rep_encoded == rotate


# ------------------------------------------------------------------------------ losses
def test_continuous_loss_shapes_and_terminal_masking(cartpole):
  _, spec = cartpole
  pred = tf.constant([[0.0, 0, 0, 0], [1.0, 1, 1, 1], [100.0, 0, 0, 0]])
  target = tf.zeros([3, 4])
  assert spec.per_transition_loss(pred, target).shape == (3,)
  done = tf.constant([False, False, True])
  # eq. 4.30: (1/N) sum (1 - done) ||T - s'||^2; the terminal row's 10^4 contributes nothing.
  np.testing.assert_allclose(spec.loss(pred, target, done).numpy(), 4.0 / 3.0, rtol=1e-6)
  np.testing.assert_allclose(
    spec.loss(pred, target, done, mask_terminal=False).numpy(), (4.0 + 1e4) / 3.0, rtol=1e-6
  )
  m = spec.metrics(pred, target, done)
  assert float(m["count"]) == 2.0 and float(m["sq_error"]) == 4.0


def test_grid_loss_targets_and_terminal_masking(catch):
  env, spec = catch
  state = tf.constant([[0, 1, 2], [3, 4, 0], [8, 2, 2]], tf.int32)
  nxt = env.physics(state, tf.constant([0, 2, 1]))
  next_obs = env.observe(nxt)
  ball, paddle = spec.targets(next_obs)
  # The third ball lands on the paddle: terminal, no ball target left (and masked below).
  np.testing.assert_array_equal(np.argmax(ball[:2], -1), nxt[:2, 0] * 5 + nxt[:2, 1])
  assert float(tf.reduce_sum(ball[2])) == 0.0
  np.testing.assert_array_equal(np.argmax(paddle, -1), nxt[:, 2])
  good = tf.concat([20.0 * ball, 20.0 * paddle], axis=1)  # confident and right
  per = spec.per_transition_loss(good, next_obs)
  assert per.shape == (3,) and float(tf.reduce_max(per[:2])) < 1e-6
  bad = -good  # confident and wrong: large cross-entropy
  mixed = tf.concat([good[:2], bad[2:]], axis=0)
  done = tf.constant([False, False, True])
  assert float(spec.loss(mixed, next_obs, done)) < 1e-6  # eq. 4.32: the terminal row is masked
  assert float(spec.loss(mixed, next_obs, done, mask_terminal=False)) > 1.0
  assert spec.exact(good, next_obs).numpy().all()
  np.testing.assert_array_equal(spec.to_observation(good[:2]), next_obs[:2])


def test_catch_distance_is_eq_4_33_with_the_ball_term_weighted(catch):
  env, _ = catch
  distance = get_distance("catch_mode_l1")
  reference = env.observe(tf.constant([[0, 1, 2]]))  # ball (0, 1), paddle column 2
  ball = np.zeros(50, np.float32)
  ball[1 * 5 + 3] = 5.0  # mode at (1, 3): |1| + |2| = 3
  paddle = np.zeros(5, np.float32)
  paddle[0] = 5.0  # mode at 0: |0 - 2| = 2
  cand = tf.constant(np.concatenate([ball, paddle])[None, None])
  np.testing.assert_allclose(distance(reference, cand).numpy(), [[0.13 * 3 + 2]], rtol=1e-6)


# ------------------------------------------------------------------------ equivariance
def test_parameter_counts_match_within_ten_percent(cartpole, catch):
  for _, spec in (cartpole, catch):
    mlp = count_params(MLPTransitionModel().build(spec))
    for pool in ("proximal", "mean"):
      gcnn = count_params(EquivariantTransitionModel(pool=pool).build(spec))
      assert abs(gcnn - mlp) / mlp <= 0.1, (spec.kind, pool, gcnn, mlp)


def test_mean_pool_models_are_exactly_equivariant_trained_or_not(cartpole, catch):
  keras.utils.set_random_seed(3)
  env, spec = catch
  pairs = all_state_action_pairs(env)
  assert len(pairs["action"]) == 675
  model = EquivariantTransitionModel(pool="mean").build(spec)
  rate, errors = equivariance_rate(model, spec, pairs["obs"], pairs["action"])
  assert rate == 1.0 and errors.max() < 1e-5
  _, spec = cartpole
  obs, act = _cartpole_states(512)
  model = EquivariantTransitionModel(pool="mean").build(spec)
  reps = [spec.symmetry.state_rep, spec.symmetry.action_rep]
  assert_equivariant(model, [obs, act], reps, spec.output_rep, atol=1e-5)
  # One training step with biases and weights moved keeps it exact.
  trainer = TransitionTrainer(model, spec, TrainConfig(epochs=1, jit_compile=False))
  nxt = obs + 0.1
  trainer._step(
    {
      "obs": tf.constant(obs),
      "action": tf.constant(act),
      "next_obs": tf.constant(nxt),
      "terminated": tf.zeros([512], tf.bool),
    }
  )
  assert_equivariant(model, [obs, act], reps, spec.output_rep, atol=1e-5)


def test_proximal_pool_fails_only_at_ties_of_the_distance(catch):
  """Proximal pooling is equivariant wherever its argmin is unique (thesis 4.7.4)."""
  keras.utils.set_random_seed(5)
  env, spec = catch
  pairs = all_state_action_pairs(env)
  model = EquivariantTransitionModel(pool="proximal").build(spec)
  rate, errors = equivariance_rate(model, spec, pairs["obs"], pairs["action"])
  pool = model.get_layer("proximal_pool")
  images = keras.Model(model.inputs, model.get_layer("transition_images").output)(
    [pairs["obs"], pairs["action"]]
  )
  dist = get_distance(spec.distance)(tf.constant(pairs["obs"]), pool.transform_images(images))
  tied = np.isclose(dist[:, 0], dist[:, 1])
  assert 0.5 < rate < 1.0  # measured (thesis: 98.3 +- 0.6 %); some ties exist at init
  assert np.all(tied[errors > 1e-5])


def test_bad_inputs_fail_clearly(cartpole):
  _, spec = cartpole
  model = MLPTransitionModel().build(spec)
  obs, act = _cartpole_states(4)
  with pytest.raises(ValueError, match=r"shape \[batch, 4\]"):
    predict_observation(model, spec, tf.zeros([4, 5]), act)
  # A Keras functional model casts inputs to its Input dtypes, so float actions are caught
  # by the library's entry points and by the layer itself.
  with pytest.raises(ValueError, match="dtype float32"):
    predict_observation(model, spec, obs, act.astype(np.float32))
  with pytest.raises(ValueError, match="dtype"):
    ActionEncoding(spec.action_codes)(tf.constant([0.0, 1.0]))
  with pytest.raises(ValueError, match=r"invalid action \[2\]"):
    model([tf.constant(obs), tf.constant([0, 1, 2, 0], tf.int32)])
  with pytest.raises(ValueError, match="dataset"):
    load_split("/nonexistent", "upright")
  with pytest.raises(ValueError, match="make_transition_data"):
    load_split("/nonexistent", "joint")


# -------------------------------------------------------------------- data and training
@pytest.fixture(scope="module")
def small_data(cartpole):
  env, _ = cartpole
  keras.utils.set_random_seed(0)
  expert = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
  config = DataConfig(num_transitions=3000, num_validation=1000, num_envs=16)
  return expert, config, make_datasets(env, expert, seed=4, config=config)


def test_datasets_hold_real_transitions_and_are_reproducible(cartpole, small_data):
  env, _ = cartpole
  expert, config, data = small_data
  joint = data["joint"]
  assert len(joint["action"]) == 3000 and joint["expert"].mean() == 0.5
  # Every stored transition is the environment's physics (reset steps were dropped) ...
  physics = env.physics(tf.constant(joint["obs"]), tf.constant(joint["action"])).numpy()
  np.testing.assert_allclose(physics, joint["next_obs"], atol=1e-6)
  # ... terminal flags are the task's rule, and left keeps only action 0.
  _, terminated = env.outcome(None, None, tf.constant(joint["next_obs"]))
  np.testing.assert_array_equal(terminated.numpy(), joint["terminated"])
  assert joint["terminated"].any() and (data["left"]["action"] == 0).all()
  assert len(data["left"]["action"]) == int((joint["action"] == 0).sum())
  again = collect_transitions(env, None, 500, seed=7, num_envs=16)
  np.testing.assert_array_equal(
    again["obs"], collect_transitions(env, None, 500, seed=7, num_envs=16)["obs"]
  )


def test_training_lowers_validation_loss_and_files_roundtrip(cartpole, small_data, tmp_path):
  _, spec = cartpole
  _, _, data = small_data
  save_split(str(tmp_path), "random", data["random"])
  train = load_split(str(tmp_path), "random")
  batch = next(iter(as_tf_dataset(train, 64)))
  assert batch["obs"].shape == (64, 4) and batch["action"].dtype == tf.int32
  keras.utils.set_random_seed(1)
  model = EquivariantTransitionModel(pool="proximal").build(spec)
  history = TransitionTrainer(model, spec, TrainConfig(epochs=2)).fit(train, data["validation"])
  assert history[-1]["val_loss"] < 0.5 * history[0]["val_loss"]
  assert history[-1]["val_rms"] == pytest.approx(evaluate(model, spec, data["validation"])["rms"])


def test_model_dynamics_drive_the_environment(cartpole, catch):
  keras.utils.set_random_seed(2)
  for env, spec in (cartpole, catch):
    model = MLPTransitionModel().build(spec)
    state, _ = env.pure_reset(0)
    action = tf.ones([env.batch_size], tf.int32)
    nxt, reward, terminated = predicted_step(model, env, state.physics, action)
    assert nxt.shape == state.physics.shape and nxt.dtype == state.physics.dtype
    # The next state is the model's prediction (turned back into Catch's state), not the
    # environment's own step: the model is untrained, so the two differ.
    predicted = predict_observation(model, spec, env.observe(state.physics), action)
    to_state = getattr(env, "state_from_observation", None)
    expected = predicted if to_state is None else to_state(predicted)
    np.testing.assert_allclose(nxt.numpy(), tf.cast(expected, nxt.dtype).numpy(), atol=1e-6)
    assert not np.allclose(nxt.numpy(), env.physics(state.physics, action).numpy())
    expected_reward, expected_done = env.outcome(state.physics, action, nxt)
    np.testing.assert_array_equal(reward, expected_reward)  # eq. 4.21: R(T(s, a))
    np.testing.assert_array_equal(terminated, expected_done)
    planner = env.with_dynamics(physics=model_dynamics(model, env))
    step = tf.function(planner.pure_step, jit_compile=True)
    _, time_step = step(state, action)
    np.testing.assert_allclose(time_step.observation, env.observe(nxt), atol=1e-5)


def test_saved_models_reload_in_a_fresh_process(cartpole, catch, tmp_path):
  keras.utils.set_random_seed(4)
  names = []
  for (env, spec), obs, act in (
    (cartpole, *_cartpole_states(32)),
    (
      catch,
      all_state_action_pairs(catch[0])["obs"][:64],
      all_state_action_pairs(catch[0])["action"][:64],
    ),
  ):
    for kind, pool in (("mlp", "mean"), ("gcnn", "proximal"), ("gcnn", "mean")):
      model = build_transition_model(kind, spec, pool)
      name = f"{spec.kind}_{kind}_{pool}"
      model.save(tmp_path / f"{name}.keras")
      np.savez(tmp_path / f"{name}.npz", obs=obs, act=act, y=model([obs, act]).numpy())
      names.append(name)
  script = textwrap.dedent(f"""
      import json, numpy as np, tensorflow as tf
      import tf_equirl  # registers the layers; safe mode, no custom_objects
      bad = []
      for name in {names!r}:
          model = tf.keras.models.load_model({str(tmp_path)!r} + "/" + name + ".keras")
          d = np.load({str(tmp_path)!r} + "/" + name + ".npz")
          if not np.array_equal(model([d["obs"], d["act"]]).numpy(), d["y"]):
              bad.append(name)
      print(json.dumps(bad))
  """)
  proc = subprocess.run(
    [sys.executable, "-c", script],
    capture_output=True,
    text=True,
    timeout=300,
    cwd=REPO,
    env=dict(
      os.environ,
      TF_CPP_MIN_LOG_LEVEL="2",
      PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
    ),
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_transition_study_writes_its_section_and_keeps_the_rest(
  cartpole, small_data, tmp_path, monkeypatch
):
  """The thesis 4.7.5 study end to end on a tiny dataset (1 epoch, 2 untrained seeds)."""
  from tf_equirl.experiments import transition_study
  from tf_equirl.models.data import dataset_dir, save_split

  _, _, data = small_data
  for name, split in data.items():
    save_split(dataset_dir(str(tmp_path / "data"), "CartPole-v1", 0), name, split)
  report = tmp_path / "results" / "transition_models.md"
  report.parent.mkdir()
  report.write_text("# Transition models\n\nhand-written intro\n")
  config = transition_study.TransitionStudyConfig(
    env="CartPole-v1",
    epochs=1,
    seeds=1,
    equivariance_seeds=2,
    progress=False,
    data_dir=str(tmp_path / "data"),
    runs_dir=str(tmp_path / "runs"),
    results_dir=str(report.parent),
    report=str(report),
    command="python -m launchers.analyze_transition --x",
  )
  text = transition_study.run_study(config)
  body = report.read_text()
  assert body.startswith("# Transition models\n\nhand-written intro")
  assert text in body and "`python -m launchers.analyze_transition --x`" in text
  rows = [line for line in text.splitlines() if line.startswith("| G-CNN mean | joint |")]
  assert len(rows) == 2  # the RMS table and the angle table
  assert (report.parent / "transition_cartpole_curves.png").exists()
  assert (report.parent / "transition_cartpole_angle.png").exists()
  # the G-CNNs are equivariant before and after training; the MLP is not
  eq = [line for line in text.splitlines() if line.startswith("| G-CNN proximal |")][-1]
  assert "100.00 %" in eq
  # shipping runs into a zoo: names by model and pooling, cards, checksums
  monkeypatch.setenv("TF_EQUIRL_ZOO", str(tmp_path / "zoo"))
  from tf_equirl import zoo

  for lab, name in (
    ("gcnn_proximal", "cartpole/gcnn_proximal_transition"),
    ("mlp", "cartpole/mlp_transition"),
  ):
    run = tmp_path / "runs" / "CartPole-v1" / f"{lab}_joint" / "seed_0"
    assert transition_study.ship_run("CartPole-v1", str(run), str(tmp_path / "data")) == name
  info = zoo.info("cartpole/gcnn_proximal_transition")
  assert info["network"] == "gcnn (proximal pooling)" and info["equivariance_error"] < 1e-5
  assert zoo.info("cartpole/mlp_transition")["equivariance_error"] is None
  assert zoo.load("cartpole/gcnn_proximal_transition").name == "gcnn_proximal_transition"
  assert "### `cartpole/gcnn_proximal_transition`" in (tmp_path / "zoo" / "README.md").read_text()
  with pytest.raises(ValueError, match="epochs must be a positive integer"):
    transition_study.TransitionStudyConfig(epochs=0)
  with pytest.raises(ValueError, match="env must be one of"):
    transition_study.TransitionStudyConfig(env="Pong")
