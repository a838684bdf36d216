"""Run folders: no mixed runs, no summary of a diverged run, no work lost to an interruption.

Fault injection: a non-finite reward from an environment step, an exception out of a training
callback, SIGINT and SIGKILL delivered to a launcher right after it saved a checkpoint, and
folders that cannot take a run (a file, a path below a file, another configuration's run).
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from support import REPO
from tf_equirl import runs
from tf_equirl.agents.dyna import Dyna, default_dyna_config
from tf_equirl.agents.ppo import PPO, default_config
from tf_equirl.runner import Arm, run_arms, run_experiment, seed_columns
from tf_equirl.envs import make


def _config(iterations=6, **kw):
  """Catch MLP, 4 envs x 32 steps, one iteration per compiled call."""
  fields = dict(num_envs=4, num_steps=32, num_epochs=2, num_minibatches=2, iterations_per_call=1)
  fields.update(kw)
  return default_config("Catch-v0", network="mlp", total_steps=iterations * 128, **fields)


def _columns_equal(a, b):
  assert list(a) == list(b)
  for name in a:
    np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]), err_msg=name)


# ------------------------------------------------------------------------- folders
def test_an_out_that_cannot_take_the_run_fails_before_any_work(tmp_path):
  config = _config()
  file = tmp_path / "a_file"
  file.write_text("x")
  with pytest.raises(runs.RunFolderError, match="is a file"):
    run_experiment(config, [0], str(file), progress=False)
  with pytest.raises(runs.RunFolderError, match="not writable"):
    run_experiment(config, [0], str(file / "below"), progress=False)
  foreign = tmp_path / "notes"
  foreign.mkdir()
  (foreign / "paper.tex").write_text("x")
  with pytest.raises(runs.RunFolderError, match="other files"):
    runs.RunFolder(str(foreign), config, [0])
  with pytest.raises(runs.RunFolderError, match="not a tf_equirl run"):
    runs.RunFolder(str(foreign), config, [0], overwrite=True)
  assert (foreign / "paper.tex").exists()


def test_another_configuration_is_refused_and_overwrite_replaces_it(tmp_path):
  first, other = _config(), _config(learning_rate=1e-3)
  out = str(tmp_path / "run")
  runs.RunFolder(out, first, [0]).start().finish()
  (tmp_path / "run" / "seed_0.csv").write_text("env_steps,mean_return\n128,0.5\n")
  with pytest.raises(runs.RunFolderError, match="already holds a run"):
    runs.RunFolder(out, first, [0])  # neither resume nor overwrite
  with pytest.raises(runs.RunFolderError, match="another configuration"):
    runs.RunFolder(out, other, [0], resume=True)
  folder = runs.RunFolder(out, other, [0], overwrite=True)
  assert (tmp_path / "run" / "seed_0.csv").exists()  # nothing removed before start()
  folder.start()
  assert not (tmp_path / "run" / "seed_0.csv").exists()
  assert folder.record["config_hash"] == runs.config_hash(other)


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_a_finished_seed_is_reused_only_with_its_fingerprint(tmp_path):
  config = _config(iterations=2)
  out = str(tmp_path / "run")
  first = run_experiment(config, [0, 1], out, progress=False, tensorboard=False, save_models=False)
  record = json.loads((tmp_path / "run" / "run.json").read_text())
  assert record["status"] == "finished"
  assert record["seeds"]["0"]["fingerprint"] == runs.seed_fingerprint(config, 0)
  assert runs.load_finished_run(out, config, [0, 1]) is not None
  assert runs.load_finished_run(out, _config(iterations=2, ent_coef=0.02), [0, 1]) is None
  # seed 1 as if made by other code: trained again, seed 0 reused
  record["seeds"]["1"]["fingerprint"] = "made-by-other-code"
  (tmp_path / "run" / "run.json").write_text(json.dumps(record))
  assert runs.load_finished_run(out, config, [0, 1]) is None
  folder = runs.RunFolder(out, config, [0, 1], resume=True)
  assert folder.is_finished(0) and not folder.is_finished(1) and folder.stale_seeds() == [1]
  again = run_experiment(
    config, [0, 1], out, progress=False, tensorboard=False, save_models=False, resume=True
  )
  np.testing.assert_array_equal(again.curves, first.curves)
  assert runs.load_finished_run(out, config, [0, 1]) is not None


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_a_reproduction_never_reuses_another_configurations_seeds(tmp_path):
  """The arms of a reproduction resume per seed; a second configuration written into the same
  runs folder under the same arm name is refused instead of overwriting the first one's seeds,
  and the first one's results are still reused afterwards."""
  small, other = _config(iterations=2), _config(iterations=2, num_epochs=1)
  first = run_arms([Arm("mlp", "mlp", small)], [0, 1], str(tmp_path), progress=False)
  with pytest.raises(runs.RunFolderError, match="another configuration"):
    run_arms([Arm("mlp", "mlp", other)], [0, 1, 2], str(tmp_path), progress=False)
  again = run_arms([Arm("mlp", "mlp", small)], [0, 1], str(tmp_path), progress=False)
  np.testing.assert_array_equal(again["mlp"][1], first["mlp"][1])


# ----------------------------------------------------------------------- divergence
def _nan_reward_after(env, steps: int):
  """The env's step, with a NaN reward from the `steps`-th call on (fault injection)."""
  calls = tf.Variable(0, dtype=tf.int64, trainable=False)

  def step(state, action):
    state, time_step, next_obs = env.pure_step_and_reset(state, action)
    calls.assign_add(1)
    reward = tf.where(calls > steps, tf.fill(tf.shape(time_step.reward), np.nan), time_step.reward)
    return state, time_step._replace(reward=reward), next_obs

  return step


def test_diverged_training_is_an_error_naming_seed_and_iteration():
  config = _config(iterations=6)
  env = make(config.env, batch_size=config.num_envs)
  ppo = PPO(config, env=env, step_fn=_nan_reward_after(env, 2 * config.num_steps))
  with pytest.raises(runs.TrainingDiverged, match=r"seed 5, iteration 3 \(384 env steps\)") as e:
    ppo.train(seed=5)
  assert e.value.seed == 5 and e.value.iteration == 3 and "value_loss" in e.value.names
  assert len(e.value.columns["mean_return"]) == 3  # the rows up to the failure


def test_a_diverged_run_is_marked_failed_and_never_summarised(tmp_path, monkeypatch):
  config = _config(iterations=4)
  original = PPO.train

  def diverging_train(self, *args, **kwargs):  # seed 1 diverges at its second iteration
    seed = kwargs.get("seed")
    if seed == 1:
      error = runs.TrainingDiverged(seed, 2, 256, ["policy_loss"])
      error.columns = {"env_steps": np.array([128, 256]), "mean_return": np.array([0.1, np.nan])}
      raise error
    return original(self, *args, **kwargs)

  monkeypatch.setattr(PPO, "train", diverging_train)
  out = tmp_path / "run"
  with pytest.raises(runs.TrainingDiverged):
    run_experiment(config, [0, 1], str(out), progress=False, tensorboard=False, vectorize=False)
  record = json.loads((out / "run.json").read_text())
  assert record["status"] == "failed" and record["error"]["seed"] == 1
  assert record["error"]["iteration"] == 2
  assert json.loads((out / "failed.json").read_text())["names"] == ["policy_loss"]
  assert (out / "seed_1.failed.csv").exists() and not (out / "seed_1.csv").exists()
  assert not (out / "summary.json").exists() and not (out / "summary.md").exists()
  assert (out / "seed_0.csv").exists()  # the finished seed is kept


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
@pytest.mark.parametrize(
  "seed_batch, concurrent_groups, kept, never_started",
  [
    (None, None, [0, 2], []),  # the default: the three seeds form one group
    (2, 2, [0, 2], []),  # {0, 1} and {2} at once: the group beside the failure finishes
    (2, 1, [0], [2]),  # one after another: no group starts after the failure
  ],
)
def test_a_diverged_seed_of_a_vectorised_group_fails_the_run_and_keeps_the_others(
  tmp_path, monkeypatch, seed_batch, concurrent_groups, kept, never_started
):
  from tf_equirl.agents.ppo.seed_batch import SeedBatchPPO

  config = _config(iterations=4)
  original = SeedBatchPPO.train_group

  def diverging_group(self, group, callback=None):  # seed 1 diverges at its second iteration
    entries = original(self, group, callback)
    for i, k in enumerate(group):
      if self.seeds[k] == 1:
        error = runs.TrainingDiverged(1, 2, 256, ["policy_loss"])
        error.columns = {"env_steps": np.array([128, 256]), "mean_return": np.array([0.1, np.nan])}
        entries[i] = error
    return entries

  monkeypatch.setattr(SeedBatchPPO, "train_group", diverging_group)
  out = tmp_path / "run"
  with pytest.raises(runs.TrainingDiverged, match="seed 1"):
    run_experiment(
      config,
      [0, 1, 2],
      str(out),
      progress=False,
      tensorboard=False,
      seed_batch=seed_batch,
      concurrent_groups=concurrent_groups,
    )
  record = json.loads((out / "run.json").read_text())
  assert record["status"] == "failed" and record["error"]["seed"] == 1
  assert (out / "seed_1.failed.csv").exists() and not (out / "seed_1.csv").exists()
  assert not (out / "summary.json").exists()
  for seed in kept:
    assert (out / f"seed_{seed}.csv").exists() and record["seeds"][str(seed)][
      "status"
    ] == "finished"
  for seed in never_started:
    assert not (out / f"seed_{seed}.csv").exists() and str(seed) not in record["seeds"]


# ----------------------------------------------------------------------- checkpoints
class _Stop(Exception):
  pass


def _interrupt_after(calls: int):
  count = [0]

  def callback(metrics):
    count[0] += 1
    if count[0] == calls:
      raise _Stop()

  return callback


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_ppo_resumes_from_its_checkpoint_with_the_same_curve(tmp_path):
  config = _config(iterations=6)
  uninterrupted = seed_columns(PPO(config).train(seed=3))
  checkpoint = runs.TrainingCheckpoint(str(tmp_path), "fingerprint", every=2)
  with pytest.raises(_Stop):  # interrupted after the 5th iteration: last checkpoint at 4
    PPO(config).train(seed=3, callback=_interrupt_after(5), checkpoint=checkpoint)
  assert json.loads((tmp_path / "state.json").read_text())["iterations"] == 4
  resumed = PPO(config)  # a new process would build a new learner
  done = []
  result = resumed.train(
    seed=3, checkpoint=checkpoint, callback=lambda m: done.append(len(m["mean_return"]))
  )
  assert sum(done) == 2  # only iterations 5 and 6 ran again
  _columns_equal(seed_columns(result), uninterrupted)
  # a checkpoint of another fingerprint (other code or settings) is not used
  other = runs.TrainingCheckpoint(str(tmp_path), "another", every=2)
  done.clear()
  PPO(config).train(seed=3, checkpoint=other, callback=lambda m: done.append(1))
  assert len(done) == 6


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_online_dyna_resumes_from_its_checkpoint_with_the_same_curve(tmp_path):
  config = default_dyna_config(
    "Catch-v0",
    mode="online",
    world_model="mlp",
    planning_ratio=0.5,
    dyna_iterations=4,
    model_epochs=1,
    ppo_overrides=dict(
      total_steps=4 * 128, num_envs=4, num_steps=32, num_epochs=1, num_minibatches=2
    ),
  )
  uninterrupted = seed_columns(Dyna(config).train(seed=2))
  checkpoint = runs.TrainingCheckpoint(str(tmp_path), "fingerprint", every=1)
  with pytest.raises(_Stop):
    Dyna(config).train(seed=2, callback=_interrupt_after(3), checkpoint=checkpoint)
  result = Dyna(config).train(seed=2, checkpoint=checkpoint)
  _columns_equal(seed_columns(result), uninterrupted)


_KILL_AFTER_SAVE = """
import os, signal, sys
from absl import app
from tf_equirl import runs
saves, kill_after, sig = [0], int(os.environ["KILL_AFTER"]), getattr(signal, os.environ["SIG"])
original = runs.TrainingCheckpoint.save
def save(self, *args, **kwargs):
  original(self, *args, **kwargs)
  saves[0] += 1
  if saves[0] == kill_after:
    os.kill(os.getpid(), sig)
runs.TrainingCheckpoint.save = save
from launchers import train_ppo
sys.argv = ["train_ppo"] + sys.argv[1:]
app.run(train_ppo.exit_when_done(train_ppo.with_runtime_fallback(train_ppo.report_failures(
    train_ppo.main))), flags_parser=train_ppo.flags_parser(train_ppo.configure_compilation))
"""

_TINY = [
  "--env=Catch-v0",
  "--network=mlp",
  "--total_steps=768",
  "--num_envs=4",
  "--num_steps=32",
  "--num_epochs=2",
  "--num_minibatches=2",
  "--iterations_per_call=1",
  "--seeds=2",
  # checkpoints inside a seed's run: the sequential path (the vectorised one keeps whole
  # seed groups, tests/test_runner_seeds.py)
  "--novectorize_seeds",
  "--checkpoint_every=2",
  "--no_progress",
  "--no_tensorboard",
  "--xla_cache=",
]


def _launch(args, env=None, script=None):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
  command = [sys.executable] + (["-c", script] if script else ["-m", "launchers.train_ppo"])
  return subprocess.run(
    command + args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
  )


@pytest.mark.slow
@pytest.mark.parametrize("sig,kill_after,seed_done", [("SIGINT", 1, False), ("SIGKILL", 4, True)])
def test_an_interrupted_launcher_resumes_to_the_same_csv(tmp_path, sig, kill_after, seed_done):
  """SIGINT during seed 0 (after its first checkpoint) and SIGKILL during seed 1 (after seed 0
  finished and seed 1 saved its second checkpoint): `--resume` reuses what finished, continues
  from the last checkpoint and writes the CSVs of an uninterrupted run."""
  reference = tmp_path / "reference"
  assert _launch(_TINY + [f"--out={reference}"]).returncode == 0
  out = tmp_path / "interrupted"
  killed = _launch(
    _TINY + [f"--out={out}"], {"KILL_AFTER": str(kill_after), "SIG": sig}, _KILL_AFTER_SAVE
  )
  assert killed.returncode == (130 if sig == "SIGINT" else -signal.SIGKILL), killed.stderr
  if sig == "SIGINT":
    assert "--resume" in killed.stderr and "Traceback" not in killed.stderr
  assert (out / "seed_0.csv").exists() == seed_done and not (out / "seed_1.csv").exists()
  assert not (out / "summary.json").exists()
  refused = _launch(_TINY + [f"--out={out}"])
  assert refused.returncode != 0 and "already holds a run" in refused.stderr
  assert "Traceback" not in refused.stderr
  resumed = _launch(_TINY + [f"--out={out}", "--resume"])
  assert resumed.returncode == 0, resumed.stderr
  assert ("reusing the finished seeds [0]" in resumed.stdout) == seed_done
  for seed in (0, 1):
    assert (out / f"seed_{seed}.csv").read_text() == (reference / f"seed_{seed}.csv").read_text()
  assert json.loads((out / "run.json").read_text())["status"] == "finished"
  assert not (out / "checkpoints" / "seed_1").exists()  # removed once the seed finished


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_launcher_errors_for_out_and_divergence_are_one_line(tmp_path):
  file = tmp_path / "a_file"
  file.write_text("x")
  bad = _launch(_TINY + [f"--out={file}"])
  assert bad.returncode != 0 and "is a file" in bad.stderr and "Traceback" not in bad.stderr
  assert "Catch-v0 mlp actor" not in bad.stdout  # failed before building or training
  diverged = _launch(_TINY + ["--learning_rate=1e30", "--seeds=1", f"--out={tmp_path / 'd'}"])
  assert diverged.returncode == 1 and "Traceback" not in diverged.stderr
  assert "training diverged: seed 0, iteration 1" in diverged.stderr
  assert json.loads((tmp_path / "d" / "run.json").read_text())["status"] == "failed"


def test_a_sweep_reuses_a_seed_only_with_its_fingerprint(tmp_path):
  """The run store of a sweep trial skips a finished seed only if its fingerprint (config,
  seed, code version) matches; reading a sweep's folder counts every finished seed."""
  from tf_equirl.sweeps.runner import RunStore  # pylint: disable=import-outside-toplevel

  config = _config(iterations=2)
  store = RunStore(str(tmp_path), "ppo", {"learning_rate": 3.5e-4}, config)
  store.save(0, {"env_steps": np.array([128, 256]), "mean_return": np.array([0.1, 0.2])})
  assert store.has(0) and not store.has(1)
  fingerprint = tmp_path / "runs" / os.path.basename(store.directory) / "seed_0.fingerprint"
  assert fingerprint.read_text().strip() == runs.seed_fingerprint(config, 0, with_runtime=False)
  fingerprint.write_text("made-by-other-code\n")
  assert not store.has(0)
  assert RunStore.at(store.directory).has(0)


def test_copy_records_takes_the_json_and_csv_files_and_leaves_models_and_checkpoints(tmp_path):
  source, dest = tmp_path / "runs", tmp_path / "records"
  kept = ["run.json", "seed_0.csv", "seed_0_final.json", "seed_0/analysis.json", "a/b/seed_3.json"]
  left = [
    "seed_0/actor.keras",
    "checkpoints/seed_1/state.json",
    "checkpoints/seed_1/ckpt-1.index",
    "data.npz",
    "curves.png",
    "run.json.tmp123",
  ]
  for i, name in enumerate(kept + left):
    path = source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"file {i}")
  copied = runs.copy_records(str(source), str(dest))
  assert sorted(copied) == sorted(kept)
  for name in kept:
    assert (dest / name).read_text() == (source / name).read_text()
  for name in left:
    assert not (dest / name).exists()
  with pytest.raises(FileNotFoundError, match="is not a folder of runs"):
    runs.copy_records(str(tmp_path / "missing"), str(dest))
  (tmp_path / "file").write_text("x")
  with pytest.raises(runs.RunFolderError, match="is a file; expected a folder"):
    runs.copy_records(str(source), str(tmp_path / "file"))


def test_the_code_version_leaves_out_the_study_declarations_only(tmp_path):
  """Editing the registry (a study's budget, a report's wording) keeps every finished run;
  editing any other library file does not."""
  import shutil

  package = os.path.dirname(runs.__file__)
  copy = tmp_path / "tf_equirl"
  shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
  assert runs.sources_hash(str(copy)) == runs.code_version() == runs.sources_hash(package)
  registry = copy / "experiments" / "registry.py"
  registry.write_text(registry.read_text() + "\n# a budget changed\n")
  assert runs.sources_hash(str(copy)) == runs.code_version()
  assert runs.sources_hash(str(copy), skip=()) != runs.sources_hash(package, skip=())
  layers = copy / "layers" / "relaxed.py"
  layers.write_text(layers.read_text() + "\n# a layer changed\n")
  assert runs.sources_hash(str(copy)) != runs.code_version()


_AC = "tf_equirl.agents.ac"


def test_an_actor_critic_runs_code_version_is_its_trainings_import_closure(tmp_path):
  """An ACConfig's fingerprint hashes the files its training imports: editing another agent,
  the studies or the sweeps keeps its finished runs; editing one of those files does not.
  Every other config hashes the whole library."""
  import shutil

  from tf_equirl.agents.ac import ACConfig
  from tf_equirl.agents.ppo import default_config

  ac, ppo = ACConfig(), default_config("CartPole-v1")
  assert runs.training_roots(ac) == (f"{_AC}.experiment",)
  closure = set(runs.import_closure(runs.training_roots(ac)))
  assert {
    f"{_AC}.learner",
    f"{_AC}.experiment",
    f"{_AC}.sac",
    "tf_equirl.agents",  # the packages above run first
    "tf_equirl",
    "tf_equirl.envs.pendulum",
    "tf_equirl.layers",
    "tf_equirl.runs",
  } <= closure
  for other in ("agents.ppo.learner", "agents.dyna", "runner", "prae", "sweeps", "experiments"):
    assert f"tf_equirl.{other}" not in closure, other
  assert runs.training_package(ac) == _AC and runs.training_package(ppo) is None
  assert runs.training_roots(ppo) is None
  assert runs.code_version(ac) == runs.modules_hash(sorted(closure)) != runs.code_version()
  assert runs.code_version(ppo) == runs.code_version()
  assert runs.seed_fingerprint(ac, 3) == runs.seed_fingerprint(ac, 3, runs.code_version(ac))
  assert runs.seed_fingerprint(ac, 3) != runs.seed_fingerprint(ac, 3, runs.code_version())

  copy = str(tmp_path / "tf_equirl")
  shutil.copytree(
    os.path.dirname(runs.__file__), copy, ignore=shutil.ignore_patterns("__pycache__")
  )

  def ac_version(config=ac):
    roots = runs.training_roots(config)
    return runs.modules_hash(runs.import_closure(roots, root=copy), root=copy)

  assert ac_version() == runs.code_version(ac)
  for outside in ("agents/ppo/learner.py", "experiments/continuous_study.py", "runner.py"):
    with open(os.path.join(copy, outside), "a", encoding="utf-8") as f:
      f.write("\n# edited\n")
    assert ac_version() == runs.code_version(ac), outside
  assert runs.sources_hash(copy) != runs.code_version()  # the whole library's changed
  with open(os.path.join(copy, "envs", "pendulum.py"), "a", encoding="utf-8") as f:
    f.write("\n# the environment changed\n")
  assert ac_version() != runs.code_version(ac)
  with pytest.raises(ValueError, match="is not a module of tf_equirl"):
    runs.import_closure(("tf_equirl.no_such_module",))
  # A package root stands for every module below it, subpackages at any depth.
  package = os.path.dirname(runs.__file__)
  every = {
    ".".join(
      ["tf_equirl", *os.path.relpath(os.path.join(folder, f), package)[: -len(".py")].split(os.sep)]
    ).removesuffix(".__init__")
    for folder, _, files in os.walk(package)
    for f in files
    if f.endswith(".py")
  }
  assert set(runs.import_closure(("tf_equirl",))) == every
  assert {"tf_equirl.agents.ac.learner", "tf_equirl.agents.ppo.learner"} <= set(
    runs.import_closure(("tf_equirl.agents",))
  )


_PIXEL_SIDE = ("tf_equirl.agents.ac.pixels", "tf_equirl.envs.render", "tf_equirl.networks.pixel")


def test_an_actor_critic_on_states_keeps_its_runs_when_the_pixel_side_changes(tmp_path):
  """The pixel agent, its renderers and encoders are in the code version of a pixel config
  only: editing them keeps the finished runs of every agent on states (and changes the
  pixel agent's version); editing what both train with changes both."""
  import shutil

  from tf_equirl.agents.ac import ACConfig

  state = ACConfig(env="CartPoleSwingup-v0")
  sac = ACConfig(env="Pendulum-v1", algorithm="sac", network="relaxed")
  picture = ACConfig(env="CartPoleSwingup-v0", observation="pixels", image_size=37)
  assert runs.training_roots(sac) == runs.training_roots(state)
  assert runs.training_roots(picture) == (f"{_AC}.experiment", f"{_AC}.pixels")
  state_closure = set(runs.import_closure(runs.training_roots(state)))
  picture_closure = set(runs.import_closure(runs.training_roots(picture)))
  assert not state_closure & set(_PIXEL_SIDE)
  assert picture_closure == state_closure | set(_PIXEL_SIDE)
  assert runs.code_version(state) == runs.code_version(sac) != runs.code_version(picture)

  copy = str(tmp_path / "tf_equirl")
  shutil.copytree(
    os.path.dirname(runs.__file__), copy, ignore=shutil.ignore_patterns("__pycache__")
  )

  def version(config):
    roots = runs.training_roots(config)
    return runs.modules_hash(runs.import_closure(roots, root=copy), root=copy)

  for edited in ("envs/render.py", "networks/pixel.py", "agents/ac/pixels.py"):
    before = version(picture)
    with open(os.path.join(copy, edited), "a", encoding="utf-8") as f:
      f.write("\n# edited\n")
    assert version(state) == runs.code_version(state), edited
    assert version(picture) != before, edited
  before = version(picture)
  with open(os.path.join(copy, "agents", "ac", "learner.py"), "a", encoding="utf-8") as f:
    f.write("\n# edited\n")
  assert version(state) != runs.code_version(state) and version(picture) != before

  class Named(ACConfig):
    def training_modules(self):
      return ("tf_equirl.envs.render",)

  Named.__module__ = ACConfig.__module__  # a config of the package that names another's module

  with pytest.raises(ValueError, match="must name modules of tf_equirl.agents.ac"):
    runs.training_roots(Named())


_LOADED_BY_AC_TRAINING = """
import json, sys, tempfile
from tf_equirl.agents.ac import ACConfig, make_agent
from tf_equirl.agents.ac.experiment import run_ac_experiment
from tf_equirl.networks.continuous import CONTINUOUS_KINDS
tiny = json.loads(sys.argv[1])
for network in CONTINUOUS_KINDS:
  make_agent(ACConfig(env="Pendulum-v1", network=network, **tiny))
make_agent(ACConfig(env="Pendulum-v1", algorithm="sac", **tiny))
with tempfile.TemporaryDirectory() as out:
  run_ac_experiment(ACConfig(env="Pendulum-v1", network="relaxed", **tiny), [0], out)
on_states = sorted(m for m in sys.modules if m == "tf_equirl" or m.startswith("tf_equirl."))
from tf_equirl.networks.pixel_layout import PIXEL_ENCODER_KINDS
for encoder in PIXEL_ENCODER_KINDS:
  pixels = dict(observation="pixels", image_size=37, frame_stack=1, encoder_channels=4)
  make_agent(ACConfig(env="CartPoleSwingup-v0", encoder=encoder, **tiny, **pixels))
on_pictures = sorted(m for m in sys.modules if m == "tf_equirl" or m.startswith("tf_equirl."))
print(json.dumps([on_states, on_pictures]))
"""


def test_training_an_actor_critic_loads_no_library_module_outside_its_closure():
  """What the static closure cannot see (a module imported by name at run time) is caught
  here: in a fresh process, agents of every network kind on states (DDPG and SAC) are built
  and one trains into a run folder, loading library modules of the state closure only; then
  pixel agents of every encoder load the pixel side, all of it in the pixel closure."""
  import json

  from support import TINY_AC_FIELDS, run_python

  from tf_equirl.agents.ac import ACConfig

  tiny = dict(TINY_AC_FIELDS, total_steps=200, eval_every=200, final_episodes=1, jit_compile=False)
  proc = run_python(
    "-c", _LOADED_BY_AC_TRAINING, json.dumps(tiny), env={"TF_CPP_MIN_LOG_LEVEL": "2"}
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  on_states, on_pictures = map(set, json.loads(proc.stdout.strip().splitlines()[-1]))
  assert {f"{_AC}.experiment", f"{_AC}.sac", "tf_equirl.envs.pendulum"} <= on_states
  assert not on_states & set(_PIXEL_SIDE)
  outside = sorted(on_states - set(runs.import_closure(runs.training_roots(ACConfig()))))
  assert not outside, outside
  assert set(_PIXEL_SIDE) <= on_pictures
  picture = ACConfig(env="CartPoleSwingup-v0", observation="pixels", image_size=37)
  outside = sorted(on_pictures - set(runs.import_closure(runs.training_roots(picture))))
  assert not outside, outside


def _library_imports():
  """(file, imported library module) of every import statement of the library, at the top or
  inside a function, relative ones resolved (`runs.module_imports`)."""
  package = os.path.dirname(runs.__file__)
  found = set()
  for folder, _, files in os.walk(package):
    for name in sorted(f for f in files if f.endswith(".py")):
      relative = os.path.relpath(os.path.join(folder, name), package).replace(os.sep, "/")
      module = ("tf_equirl/" + relative[: -len(".py")]).replace("/", ".")
      module = module[: -len(".__init__")] if module.endswith(".__init__") else module
      found |= {(relative, imported) for imported in runs.module_imports(module)}
  return found


def test_nothing_in_the_library_imports_what_the_code_version_leaves_out():
  """The files of `runs.NOT_TRAINING` cannot change what trains: no library module imports
  them."""
  left_out = {"tf_equirl." + p[: -len(".py")].replace("/", ".") for p in runs.NOT_TRAINING}
  assert left_out == {"tf_equirl.experiments.registry"}
  imports = _library_imports()
  # The walk sees imports inside functions (the registry's) and at the top of a module.
  assert ("experiments/registry.py", "tf_equirl.experiments.continuous_study") in imports
  assert ("agents/ppo/__init__.py", "tf_equirl.agents.ppo.learner") in imports
  importers = sorted(
    (where, what) for where, what in imports if what in left_out and where not in runs.NOT_TRAINING
  )
  assert not importers, importers
