"""The model zoo: every file loads in a fresh process and does what its card says."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tf_equirl import zoo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = json.load(open(os.path.join(zoo.zoo_dir(), "manifest.json")))

CHECK = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    import tf_equirl                                   # registers the layers: nothing else
    name, entry = sys.argv[1], json.loads(sys.argv[2])
    model = tf.keras.models.load_model("zoo/" + entry["file"])   # safe mode, no custom_objects
    from tf_equirl import evaluation, zoo
    from tf_equirl.envs import make
    from tf_equirl.params import count_params
    from tf_equirl.testing import assert_equivariant, invariant
    assert count_params(model) == entry["params"], (count_params(model), entry["params"])
    env = make(entry["env"], batch_size=4, seed=0)
    sym = env.symmetry
    rng = np.random.default_rng(0)
    states = rng.standard_normal((256, sym.state_dim)).astype(np.float32)
    if entry["role"] == "transition":
        from tf_equirl.models import TransitionSpec
        from tf_equirl.models import analysis
        spec = TransitionSpec.for_env(env)
        actions = rng.integers(0, sym.num_actions, 256).astype(np.int32)
        if "proximal" in entry["network"] and spec.kind == "grid":
            # approximately equivariant: on the card's 675 Catch pairs the predicted next
            # grid transforms exactly as often as the card says
            pairs = analysis.all_state_action_pairs(env)
            rate = analysis.prediction_equivariance_rate(model, spec, pairs["obs"],
                                                         pairs["action"])
            recorded = entry["metrics"]["prediction_equivariance_rate"]
            assert abs(rate - recorded) <= 2 / 675 and rate >= 0.95, (rate, recorded)
        else:
            rate = analysis.equivariance_rate(model, spec, states, actions)[0]
            assert rate == 1.0 or entry["equivariance_error"] is None, rate
    elif entry["equivariance_error"] is not None and entry.get("action_repeat"):
        # a continuous-control actor (mean action) or twin critic [state, action] -> [Q1, Q2]
        if entry["role"] == "actor":
            assert_equivariant(model, states, sym.state_rep, sym.action_rep, atol=1e-5)
        else:
            actions = rng.uniform(-1, 1, (256, sym.action_dim)).astype(np.float32)
            scale = max(1.0, float(np.max(np.abs(model([states, actions])))))
            assert_equivariant(model, [states, actions], [sym.state_rep, sym.action_rep],
                               invariant(sym.group), atol=1e-5 * scale)
    elif entry["equivariance_error"] is not None:
        out = sym.action_rep if entry["role"] == "actor" else invariant(sym.group)
        # float32 rounding grows with the outputs (trained logits reach the tens on random
        # Gaussian states): the tolerance is relative to their scale
        scale = max(1.0, float(np.max(np.abs(model(states)))))
        assert_equivariant(model, states, sym.state_rep, out, atol=1e-5 * scale)
    if entry["role"] == "actor" and entry.get("action_repeat"):
        # The card's own episodes give the card's number (a deterministic actor; within the
        # card's 2 SE, since another CPU's float rounding may tip an episode's swing-up).
        card = entry["evaluation"]["tf_greedy"]
        returns = evaluation.evaluate_tf(model, entry["env"], episodes=card["episodes"],
                                         seed=entry["evaluation"]["seed"],
                                         action_repeat=entry["action_repeat"])
        assert abs(returns.mean() - card["mean"]) <= card["two_se"] + 1e-3, (returns.mean(), card)
        assert card["mean"] >= entry["threshold"], (card, entry["threshold"])
        try:
            zoo.as_policy(model, env)
            raise AssertionError("as_policy accepted a continuous-control actor")
        except ValueError as error:
            assert "discrete actions" in str(error), error
    elif entry["role"] == "actor":
        returns = evaluation.evaluate_tf(model, entry["env"], episodes=20, greedy=True, seed=7)
        assert returns.mean() >= entry["threshold"], (returns.mean(), entry["threshold"])
        policy = zoo.as_policy(model, env)
        step = env.reset()
        for _ in range(10):
            step = env.step(policy.action(step).action)
        sampling = zoo.as_policy(model, env, greedy=False)
        assert sampling.action(step).action.shape == (4,)
    print("OK", name)
""")


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_zoo_model_in_fresh_process(name):
  entry = MANIFEST[name]
  assert entry["bytes"] < 1024 * 1024  # kilobytes, not megabytes
  proc = subprocess.run(
    [sys.executable, "-c", CHECK, name, json.dumps(entry)],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=600,
    env=dict(
      os.environ,
      TF_CPP_MIN_LOG_LEVEL="2",
      PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
    ),
  )
  assert proc.returncode == 0 and f"OK {name}" in proc.stdout, proc.stderr[-3000:]


def test_zoo_covers_the_networks_and_checksums_match():
  expected = {
    f"cartpole/{n}_{r}" for n in ("mlp", "gcnn", "symmetrizer") for r in ("actor", "critic")
  } | {
    f"{env}/{n}_{r}"
    for env in ("catch", "pendulum")
    for n in ("mlp", "gcnn")
    for r in ("actor", "critic")
  }
  assert expected <= set(zoo.list())
  for name in zoo.list():
    assert zoo.sha256(zoo.path(name)) == zoo.info(name)["sha256"], name


def test_unknown_name_lists_available():
  with pytest.raises(
    ValueError, match="Unknown zoo model 'cartpole/cnn_actor'.*cartpole/gcnn_actor"
  ):
    zoo.load("cartpole/cnn_actor")


def test_corrupt_and_truncated_files_name_the_file(tmp_path, monkeypatch):
  shutil.copytree(zoo.zoo_dir(), tmp_path / "zoo")
  monkeypatch.setenv("TF_EQUIRL_ZOO", str(tmp_path / "zoo"))
  file = tmp_path / "zoo" / "cartpole" / "gcnn_actor.keras"
  data = file.read_bytes()
  file.write_bytes(data[: len(data) // 3])
  with pytest.raises(ValueError, match=f"{file}.*does not match its SHA-256"):
    zoo.load("cartpole/gcnn_actor")
  with pytest.raises(ValueError, match=f"Cannot load the Keras model file {file}"):
    zoo.load("cartpole/gcnn_actor", verify=False)
  file.write_bytes(b"not a model")
  with pytest.raises(ValueError, match=f"Cannot load the Keras model file {file}"):
    zoo.load_file(str(file))


def test_resolve_a_zoo_name_loads_it_checked():
  file, entry = zoo.resolve("cartpole/gcnn_actor")
  assert file == zoo.path("cartpole/gcnn_actor") and entry == zoo.info("cartpole/gcnn_actor")
  model = zoo.load_any("cartpole/gcnn_actor")
  assert model.outputs[0].shape[-1] == 2


def test_resolve_an_existing_keras_path_loads_the_file(tmp_path):
  file = tmp_path / "actor.keras"
  shutil.copyfile(zoo.path("cartpole/mlp_actor"), file)
  assert zoo.resolve(str(file)) == (str(file), None)
  observations = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
  np.testing.assert_array_equal(
    zoo.load_any(str(file))(observations), zoo.load("cartpole/mlp_actor")(observations)
  )


def test_resolve_a_missing_path_names_it_and_lists_the_zoo(tmp_path):
  missing = str(tmp_path / "actor.keras")
  for call in (zoo.resolve, zoo.load_any):
    with pytest.raises(ValueError) as error:
      call(missing)
    message = str(error.value)
    assert repr(missing) in message and "does not exist" in message
    assert "cartpole/gcnn_actor" in message and "A path must be an existing .keras file" in message
  folder = tmp_path / "model.keras"
  folder.mkdir()
  with pytest.raises(ValueError, match="is not an existing .keras file \\(it is a folder\\)"):
    zoo.load_any(str(folder))
  other = tmp_path / "actor.h5"
  shutil.copyfile(zoo.path("cartpole/mlp_actor"), other)
  with pytest.raises(
    ValueError, match="its name does not end in .keras.*A path must be an " "existing .keras file"
  ):
    zoo.load_any(str(other))


def test_resolve_a_corrupt_file_names_the_file(tmp_path):
  file = tmp_path / "actor.keras"
  file.write_bytes(b"not a model")
  assert zoo.resolve(str(file)) == (str(file), None)  # resolving does not read the file
  with pytest.raises(
    ValueError,
    match=f"Cannot load the Keras model file {file}: it is "
    "truncated, corrupt or not a .keras model",
  ):
    zoo.load_any(str(file))


def test_resolve_an_unknown_name_lists_the_zoo():
  for received in ("cartpole/cnn_actor", "", 42):
    with pytest.raises(ValueError) as error:
      zoo.load_any(received)
    message = str(error.value)
    assert repr(received) in message and "existing .keras file" in message
    assert "available models: " in message and "cartpole/gcnn_actor" in message
  with pytest.raises(
    ValueError,
    match="Unknown zoo model 'cartpole/cnn_actor'.*available "
    "models: .*cartpole/gcnn_actor.*A path must be an existing .keras file",
  ):
    zoo.resolve("cartpole/cnn_actor")


def test_as_policy_rejects_a_model_for_another_environment():
  from tf_equirl.envs import make

  actor = zoo.load("catch/gcnn_actor")
  with pytest.raises(ValueError, match="flatten to \\[batch, 4\\]"):
    zoo.as_policy(actor, make("CartPole-v1"))


def _evaluate(*flags):
  """`python -m launchers.evaluate FLAGS` from the repository root."""
  return subprocess.run(
    [sys.executable, "-m", "launchers.evaluate", *flags],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=600,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
  )


@pytest.mark.parametrize("network", ["mlp", "gcnn", "symmetrizer"])
def test_cartpole_zoo_actors_on_gymnasiums_own_cartpole(network):
  """The evaluate launcher's gymnasium backend plays gymnasium's CartPole-v1 itself."""
  proc = _evaluate(
    f"--model=cartpole/{network}_actor", "--backend=gymnasium", "--episodes=5", "--seed=3"
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = next(text for text in proc.stdout.splitlines() if "gymnasium backend" in text)
  mean = float(line.split(": ")[1].split(" +-")[0])
  assert mean >= 475.0, line


def test_evaluate_renders_an_animation(tmp_path):
  gif = tmp_path / "catch.gif"
  proc = _evaluate(
    "--model=catch/gcnn_actor", "--episodes=10", f"--render={gif}", "--render_episodes=2"
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  from PIL import Image

  with Image.open(gif) as image:
    assert image.n_frames >= 2 * 9  # two Catch episodes of 9 steps each


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_evaluate_rejects_unknown_models():
  proc = _evaluate("--model=cartpole/cnn_actor")
  assert proc.returncode != 0 and "Unknown zoo model 'cartpole/cnn_actor'" in proc.stderr
  proc = _evaluate("--model=cartpole/gcnn_critic")
  assert proc.returncode != 0 and "cartpole/gcnn_critic is a critic" in proc.stderr
  proc = _evaluate("--model=/no/such/actor.keras", "--env=CartPole-v1")
  assert (
    proc.returncode != 0
    and "'/no/such/actor.keras' is not an existing .keras file (it " "does not exist)"
    in proc.stderr
    and "A path must be an existing .keras file" in proc.stderr
  )
  proc = _evaluate(f"--model={zoo.path('cartpole/mlp_actor')}")
  assert proc.returncode != 0 and "--env is required" in proc.stderr


def test_subpackages_are_reachable_from_the_top_level_import():
  code = (
    "import tf_equirl; print(tf_equirl.zoo.list()[0], tf_equirl.models.model_dynamics.__name__,"
    " tf_equirl.envs.list_envs(), tf_equirl.evaluation.evaluate.__name__)"
  )
  proc = subprocess.run(
    [sys.executable, "-c", code],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=600,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "model_dynamics" in proc.stdout and "CartPole-v1" in proc.stdout


def test_grid_world_episodes_render_as_pictures(tmp_path):
  from PIL import Image
  from tf_equirl import evaluation

  gif = str(tmp_path / "grid.gif")
  returns = evaluation.render_episodes(
    zoo.load("gridworld/gcnn_actor"), "GridWorld-v0", gif, episodes=2
  )
  # the trained actor reaches the goal (+1; a hazard gives -1): its card's greedy mean is 0.98
  assert len(returns) == 2 and all(r > 0 for r in returns), returns
  with Image.open(gif) as image:
    assert image.n_frames >= 2 and image.size == (5 * 32, 5 * 32)  # GIF merges equal frames
  frame = evaluation._grid_frame(np.eye(1, 75, 12)[0] + np.eye(1, 75, 25)[0], 5)  # pylint: disable=protected-access
  assert tuple(frame[2 * 32 + 16, 2 * 32 + 16]) == (40, 90, 200)  # the agent, centre cell
  assert tuple(frame[16, 16]) == (60, 170, 80)  # the goal, top left
