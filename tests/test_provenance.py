"""Provenance records of results files: written, read back, and true of this checkout."""

import json
import os
import signal
import subprocess
import sys
import time

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


def test_a_resumed_result_counts_every_invocation_of_its_code_and_command(tmp_path):
  """Two invocations with one key sum; another key's entries do not count."""
  folder = str(tmp_path / "runs")
  with provenance.WallLedger(folder, "v1 cmd", every=0.05):
    time.sleep(0.2)
  with provenance.WallLedger(folder, "v0 cmd"):
    time.sleep(0.1)
  with provenance.WallLedger(folder, "v1 cmd") as ledger:
    time.sleep(0.1)
    seconds, invocations = ledger.total()
  assert invocations == 2 and 0.3 <= seconds < 5.0
  entries = json.load(open(os.path.join(folder, "invocations.json")))
  assert [e["key"] for e in entries] == ["v1 cmd", "v0 cmd", "v1 cmd"]
  record = provenance.collect("python -m x", wall_seconds=seconds, invocations=invocations)
  text = provenance.header(record)
  assert provenance.parse(text) == record and "over 2 invocations" in text
  assert "invocations" not in provenance.header(provenance.collect("python -m x")).split("-->")[1]
  # Read without adding an entry, over the keys a test accepts; no ledger: nothing recorded.
  v1 = [e["wall_seconds"] for e in entries if e["key"] == "v1 cmd"]
  assert provenance.WallLedger.recorded(folder, lambda k: k.startswith("v1 ")) == (sum(v1), 2)
  assert provenance.WallLedger.recorded(folder, lambda k: True)[1] == 3
  assert len(json.load(open(os.path.join(folder, "invocations.json")))) == 3
  assert provenance.WallLedger.recorded(str(tmp_path / "none"), lambda k: True) == (0.0, 0)


def test_each_invocation_names_its_machine_and_what_sizes_the_thread_pool(tmp_path, monkeypatch):
  """A study resumed on several machines says which trained it, with which pool inputs and
  XLA flags."""
  folder = str(tmp_path / "runs")
  monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")
  monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
  with provenance.WallLedger(folder, "k"):
    pass
  monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "not a number")
  monkeypatch.delenv("XLA_FLAGS")
  with provenance.WallLedger(folder, "k"):
    pass
  first, second = json.load(open(os.path.join(folder, "invocations.json")))
  assert (first["xla_flags"], second["xla_flags"]) == ("--xla_cpu_multi_thread_eigen=false", "")
  assert first["machine"] == provenance.machine()
  assert first["thread_pool"]["TF_NUM_INTRAOP_THREADS"] == 3
  assert second["thread_pool"]["TF_NUM_INTRAOP_THREADS"] is None
  assert first["thread_pool"]["cpus"] == len(os.sched_getaffinity(0)) >= 1
  assert first["thread_pool"]["tf_config"] is None
  # A pool size set through tf.config (before TensorFlow starts, in a process of its own).
  code = (
    "import tensorflow as tf\n"
    "tf.config.threading.set_intra_op_parallelism_threads(1)\n"
    "from tf_equirl import provenance\n"
    f"with provenance.WallLedger({folder!r}, 'k'):\n  pass\n"
  )
  subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
  third = json.load(open(os.path.join(folder, "invocations.json")))[2]
  assert third["thread_pool"]["tf_config"] == 1


def test_an_invocation_killed_partway_counts_up_to_its_last_update(tmp_path):
  folder = tmp_path / "runs"
  script = (
    "import time\nfrom tf_equirl import provenance\n"
    f"with provenance.WallLedger({str(folder)!r}, 'k', every=0.05):\n  time.sleep(60)\n"
  )
  child = subprocess.Popen([sys.executable, "-c", script])
  path = folder / "invocations.json"
  deadline = time.time() + 60
  while time.time() < deadline:
    if path.exists() and json.loads(path.read_text() or "[]")[0]["wall_seconds"] >= 0.5:
      break
    time.sleep(0.05)
  child.send_signal(signal.SIGKILL)
  child.wait()
  killed = json.loads(path.read_text())[0]["wall_seconds"]
  assert killed >= 0.5
  with provenance.WallLedger(str(folder), "k") as ledger:
    seconds, invocations = ledger.total()
  assert invocations == 2 and seconds >= killed


def test_a_corrupt_ledger_and_bad_arguments_are_named(tmp_path):
  (tmp_path / "invocations.json").write_text("{not json")
  with pytest.raises(ValueError, match="invocations.json is not a list of invocations"):
    with provenance.WallLedger(str(tmp_path), "k"):
      pass
  with pytest.raises(ValueError, match="key"):
    provenance.WallLedger(str(tmp_path), "")
  with pytest.raises(ValueError, match="every must be positive"):
    provenance.WallLedger(str(tmp_path), "k", every=0)
  with pytest.raises(ValueError, match="invocations must be at least 1"):
    provenance.collect("python -m x", invocations=0)


def test_records_written_before_invocations_were_counted_still_parse():
  text = (
    '<!-- provenance {"command": "c", "commit": "x", "date": "d", "dirty": false, '
    '"machine": "m", "seeds": "0", "versions": {}, "wall_seconds": 3.0} -->'
  )
  assert provenance.parse(text).invocations == 1
