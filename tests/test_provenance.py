"""Provenance records of results files: written, read back, and true of this checkout."""

import os
import subprocess

import pytest

from tf_equirl import provenance


def test_record_round_trips_through_the_header():
  record = provenance.collect(
    "python -m launchers.reproduce_all --only=ppo_tables --quick", seeds=range(8), wall_seconds=75.0
  )
  text = provenance.header(record) + "\n# PPO tables\n"
  assert provenance.parse(text) == record
  assert "`python -m launchers.reproduce_all --only=ppo_tables --quick`" in text
  assert "seeds 0-7" in text and "75 s" in text


def test_record_names_this_checkouts_commit_and_libraries():
  record = provenance.collect("python -m launchers.train_ppo")
  head = subprocess.run(
    ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=provenance._ROOT, check=False
  ).stdout.strip()
  if head:
    assert record.commit == head
  import tensorflow as tf

  assert record.versions["tensorflow"] == tf.__version__
  assert record.versions["python"].startswith("3.")
  assert "cores" in record.machine
  assert record.date[:4].isdigit() and "T" in record.date


@pytest.mark.parametrize(
  "seeds,text",
  [([], "none"), ([3], "3"), ([0, 1, 2, 5], "0-2, 5"), ([7, 5, 6, 9, 10], "5-7, 9-10")],
)
def test_seed_ranges(seeds, text):
  assert provenance.format_seeds(seeds) == text


def test_missing_and_malformed_records():
  assert provenance.parse("# a table\n") is None
  with pytest.raises(ValueError, match="malformed provenance"):
    provenance.parse('<!-- provenance {"command": "x"} -->')
  with pytest.raises(ValueError, match="command"):
    provenance.collect("  ")


def test_dirty_counts_the_code_and_not_the_outputs(tmp_path, monkeypatch):
  """A rewritten report under results/ (what a study writes) leaves the tree clean; an edited
  source file marks it dirty."""
  env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t")
  env["GIT_COMMITTER_EMAIL"] = "t@t"
  (tmp_path / "results" / "study").mkdir(parents=True)
  (tmp_path / "docs").mkdir()
  (tmp_path / "code.py").write_text("x = 1\n")
  (tmp_path / "results" / "study" / "README.md").write_text("old\n")
  (tmp_path / "docs" / "results.md").write_text("old\n")
  for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "c"]):
    subprocess.run(["git", *args], cwd=tmp_path, check=True, env=env)
  monkeypatch.setattr(provenance, "_ROOT", str(tmp_path))
  commit, dirty = provenance.git_commit()
  assert len(commit) == 40 and not dirty
  (tmp_path / "results" / "study" / "README.md").write_text("new\n")
  (tmp_path / "docs" / "results.md").write_text("new\n")
  assert provenance.git_commit() == (commit, False)
  (tmp_path / "code.py").write_text("x = 2\n")
  assert provenance.git_commit() == (commit, True)
