"""Launchers stop on bad flag values with a one-line usage error (non-zero exit, the message
on stderr, no traceback) before any training, and train a symmetry-breaking variant given as
`--env=<env>:<breaking>:<strength>`."""

import json
import os
import subprocess
import sys

import pytest

from support import run_module

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A tiny quiet train_ppo run: an MLP, 512 steps.
TINY_TRAIN_PPO = (
  "--network=mlp",
  "--total_steps=512",
  "--num_envs=4",
  "--num_steps=32",
  "--no_progress",
  "--no_tensorboard",
)

BAD = [
  (
    "train_ppo",
    ["--network=mlp", "--learning_rate=inf", "--total_steps=20480"],
    "PPOConfig.learning_rate must be a finite number > 0, received inf",
  ),
  ("train_ppo", ["--width=0"], "PPOConfig.width must be a positive integer or None"),
  ("train_ppo", ["--checkpoints=10k"], "--checkpoints must be positive integers"),
  ("train_ppo", ["--env=Pong"], "'<env>:<breaking>:<strength>'"),
  (
    "train_ppo",
    ["--seeds=2", "--seed_batch=3"],
    "--seed_batch must be from 1 to the number of seeds (2), received 3",
  ),
  ("train_dyna", ["--planning_ratio=nan"], "DynaConfig.planning_ratio must be a positive"),
  ("train_ac", ["--algorithm=sac", "--log_std_min=3"], "log_std_min=3.0 must be below"),
  (
    "train_ac",
    ["--algorithm=sac", "--seeds=2", "--seed_batch=2"],
    "SeedBatchAC vectorises the deterministic actor (algorithm='drqv2')",
  ),
  ("reproduce_ppo", ["--seeds=0"], "--seeds=0: 0 is not a positive integer"),
  ("reproduce_approx", ["--catch_noise=x"], "--catch_noise must be numbers"),
  (
    "reproduce_continuous",
    ["--tasks=pendulum,cheetah"],
    "--tasks must be a non-empty comma-separated list of pendulum, swingup, acrobot, reacher",
  ),
  (
    "reproduce_continuous",
    ["--observation=pixels", "--tasks=pendulum"],
    "--tasks selects state studies; the pixel study has one task",
  ),
  (
    "reproduce_continuous",
    ["--progress", "--interim"],
    "--progress and --interim do different things; give at most one of",
  ),
  ("reproduce_ppo", ["--seeds=1", "--results={file}"], "is a file; expected a folder"),
  (
    "reproduce_all",
    ["--only=ppo_catch", "--export_records={file}"],
    "the report of ppo_catch needs more than its run records",
  ),
  (
    "reproduce_all",
    ["--only=prae_grid,prae_keyroom", "--export_records={file}"],
    "--export_records needs exactly one study in --only, received 2",
  ),
  (
    "reproduce_all",
    ["--only=prae_keyroom", "--import_records={file}"],
    "is not a folder of records",
  ),
  (
    "reproduce_all",
    ["--only=ppo_catch", "--interim"],
    "--interim: ppo_catch has no interim report; the studies with one are: continuous_pendulum",
  ),
  (
    "reproduce_all",
    ["--only=continuous_pendulum,continuous_pixels", "--interim"],
    "--interim needs exactly one study in --only, received 2",
  ),
  ("train_transition", ["--out={file}/below"], "is not writable"),
]


@pytest.mark.parametrize(
  "launcher,flags,message", BAD, ids=[f"{name}:{' '.join(f)}" for name, f, _ in BAD]
)
def test_bad_flag_values_give_a_one_line_error(launcher, flags, message, tmp_path):
  out = tmp_path / "out"
  out_flag = (
    [f"--out={out}"]
    if launcher.startswith("train") and not any(f.startswith("--out=") for f in flags)
    else []
  )
  (tmp_path / "a_file").write_text("x")  # an output folder that is a file
  flags = [f.replace("{file}", str(tmp_path / "a_file")) for f in flags]
  # From an empty folder, so that the launchers' default outputs (results/, runs/, relative
  # paths) would land there rather than in the repository.
  cwd = tmp_path / "cwd"
  cwd.mkdir()
  pythonpath = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
  proc = subprocess.run(
    [sys.executable, "-m", f"launchers.{launcher}", *flags, *out_flag],
    cwd=cwd,
    capture_output=True,
    text=True,
    timeout=120,
    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": pythonpath},
  )
  assert proc.returncode != 0, proc.stdout[-2000:]
  assert message in proc.stderr, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  assert not out.exists()
  assert not list(cwd.iterdir()), f"{launcher} wrote {sorted(p.name for p in cwd.iterdir())}"


def test_train_ppo_trains_a_variant_environment(tmp_path):
  out = tmp_path / "variant"
  proc = run_module(
    "launchers.train_ppo",
    "--env=Catch-v0:global:0.5",
    *TINY_TRAIN_PPO,
    f"--out={out}",
    env={"TF_CPP_MIN_LOG_LEVEL": "2"},
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(out / "summary.json") as f:
    summary = json.load(f)
  assert summary["config"]["env"] == "Catch-v0:global:0.5"
  assert summary["config"]["num_minibatches"] == 51  # Catch's defaults (thesis Table 5.2)
  assert os.path.exists(out / "seed_0.csv")


@pytest.mark.slow
def test_several_seeds_run_as_lone_programs_on_the_newer_runtime_else_vectorised(tmp_path):
  """train_ppo compiles with XLA's newer CPU runtime however many seeds it trains; there,
  several seeds train each as its own lone program (a lane per core), and with
  --noxla_runtime (or an explicit --seed_batch above one) as one vectorised program."""
  common = [*TINY_TRAIN_PPO, "--xla_cache="]
  for name, flags, runtime, path in (
    ("one", ["--seeds=1"], "xla_runtime", None),
    ("two", ["--seeds=2"], "xla_runtime", "each as its own compiled program"),
    ("classic", ["--seeds=2", "--noxla_runtime"], "classic", "as one vectorised program"),
    ("batch", ["--seeds=2", "--seed_batch=2"], "xla_runtime", "as one vectorised program"),
  ):
    out = tmp_path / name
    proc = run_module(
      "launchers.train_ppo", *common, *flags, f"--out={out}", env={"TF_CPP_MIN_LOG_LEVEL": "2"}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "run.json") as f:
      assert json.load(f)["xla_cpu_runtime"] == runtime, name
    if path is not None:
      assert path in proc.stdout, (name, proc.stdout[-2000:])
