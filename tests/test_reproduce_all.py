"""`python -m launchers.reproduce_all --quick`: every study of the registry end to end on tiny
budgets, each study in a process of its own (two at a time in the first test, one at a time
in the second), into a temporary folder (slow: several minutes on 2 cores)."""

import os

import pytest

from tf_equirl import provenance
from tf_equirl.experiments import registry

from support import run_module

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_every_study_runs_quick_and_writes_a_report_with_provenance(tmp_path):
  out, runs = tmp_path / "results", tmp_path / "runs"
  proc = run_module(
    "launchers.reproduce_all",
    "--quick",
    "--jobs=2",
    f"--out={out}",
    f"--runs={runs}",
    env={"TF_CPP_MIN_LOG_LEVEL": "2"},
    timeout=2400,
  )
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
  for name in registry.names():
    path = out / name / "README.md"
    assert path.exists(), f"{name}: no {path}"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!-- provenance "), name
    record = provenance.parse(text)
    assert record.command == f"python -m launchers.reproduce_all --only={name} --quick", name
    assert record.wall_seconds > 0 and record.commit, name
    rows = [
      line for line in text.splitlines() if line.startswith("|") and not set(line) <= set("|-: ")
    ]
    assert len(rows) >= 2, f"{name}: no table row"  # a header and at least one row
  assert not (tmp_path / "results" / "results").exists()


@pytest.mark.slow
def test_a_failing_study_does_not_stop_the_others_and_is_named(tmp_path):
  out, runs = tmp_path / "results", tmp_path / "runs"
  out.mkdir()
  (out / "ppo_catch").write_text("a file where the study's folder should be")
  proc = run_module(
    "launchers.reproduce_all",
    "--quick",
    "--only=ppo_catch,forward_overhead",
    f"--out={out}",
    f"--runs={runs}",
    env={"TF_CPP_MIN_LOG_LEVEL": "2"},
    timeout=900,
  )
  assert proc.returncode != 0
  assert "1 of 2 studies failed: ppo_catch" in proc.stdout + proc.stderr
  assert (out / "forward_overhead" / "README.md").exists()  # ran after the failure
