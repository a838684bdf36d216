"""The benchmark scripts (and the profiling helper in tools/) run at a tiny size so they cannot
rot (no assertion on time). The scripts that are studies of the results registry
(forward_overhead, ppo_throughput, env_throughput, dyna_throughput, sweep_throughput) run with
`--quick` in tests/test_reproduce_all.py instead, which also checks their reports."""

import os

import pytest

from support import run_python

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow  # about 4 minutes in all; `python tests/run_slow.py` (run by .ci/run)
@pytest.mark.parametrize(
  "script,args,marker",
  [
    ("tools/ppo_profile.py", ["--quick", "--env=Catch-v0"], "steps/s"),
    ("benchmarks/train_step_forms.py", ["--quick"], "us/step"),
    ("benchmarks/pixel_encoders.py", ["--quick"], "| graph |"),
    ("benchmarks/prae_planning.py", ["--quick"], "matvec / library"),
    (
      "benchmarks/seed_batch.py",
      ["--total_steps=1024", "--seed_counts=2", "--sequential_seeds=1"],
      "s/seed",
    ),
    (
      "benchmarks/seed_batch.py",
      [
        "--transition",
        "--models=mlp",
        "--transitions=512",
        "--epochs=2",
        "--seed_counts=2",
        "--sequential_seeds=1",
      ],
      "s/epoch/seed",
    ),
    (
      "benchmarks/seed_batch.py",
      ["--ac", "--total_steps=1000", "--seed_counts=2", "--sequential_seeds=1"],
      "second call s/seed",
    ),
    (
      "benchmarks/xla_threads.py",
      [
        "--networks=mlp",
        "--threads=1",
        "--total_steps=1500",
        "--timing_steps=1500",
        "--timing_seeds=1",
        "--repeats=1",
      ],
      "mean time",
    ),
  ],
)
def test_benchmark_runs(script, args, marker):
  proc = run_python(
    os.path.join(REPO, script), *args, env={"TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=600
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert marker in proc.stdout and "|" in proc.stdout


def test_xla_threads_rejects_a_schedule_before_training():
  """A curve budget that the default third does not divide fails at once with ACConfig's
  named error, before any child process trains; --eval_every picks a divisor."""
  proc = run_python(
    os.path.join(REPO, "benchmarks/xla_threads.py"),
    "--networks=mlp",
    "--threads=1",
    "--total_steps=2000",
    "--timing_steps=0",
    env={"TF_CPP_MIN_LOG_LEVEL": "2"},
    timeout=300,
  )
  assert proc.returncode != 0
  assert "total_steps=2000 must be a multiple of eval_every=666" in proc.stderr
  assert "child" not in proc.stderr  # no child process was started
