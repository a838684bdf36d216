"""`python -m launchers.reproduce_all --quick`: every study of the registry end to end on tiny
budgets, one study per test, each in a process of its own, into a temporary folder (slow:
about an hour of one core in all; `tests/run_slow.py` deals the tests to its jobs in parts).
Two studies then go on from their exported run records in an empty runs folder, and a
command naming two studies, one of which fails, runs the other and names the failure."""

import json

import pytest

from tf_equirl import provenance
from tf_equirl.experiments import registry

from support import run_module

# The studies whose records are exported and imported after their quick run: one of each
# family whose reports need only records (PRAE, continuous control).
RECORDS_CHECKED = ("continuous_pendulum", "prae_keyroom")


def _reproduce(name, *flags):
  proc = run_module(
    "launchers.reproduce_all",
    "--quick",
    f"--only={name}",
    *flags,
    env={"TF_CPP_MIN_LOG_LEVEL": "2"},
    timeout=1500,
  )
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
  return proc


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names())
def test_each_study_runs_quick_and_writes_a_report_with_provenance(tmp_path, name):
  out, runs = tmp_path / "first", tmp_path / "runs1"
  _reproduce(name, f"--out={out}", f"--runs={runs}")
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
  assert sorted(p.name for p in out.iterdir()) == [name]
  if name.startswith("dyna_controlled_"):  # every arm of the quick run is compared
    arms = registry.get(name).quick(registry.Target("f", "r", "c")).arms
    for arm in arms:
      assert f"| {arm} |" in text, f"{name}: no row of {arm}"
    assert "### Return at the last step" in text and "### Steps to a return of " in text
  if name in RECORDS_CHECKED:
    _goes_on_from_its_exported_records_without_training_again(tmp_path, name)


def _goes_on_from_its_exported_records_without_training_again(tmp_path, name):
  """The records of the finished quick run in `tmp_path / "runs1"`, exported and imported into
  an empty runs folder, write the same report there, and nothing trains: no model is saved
  and no seed's row is written again; an altered record changes the report."""
  records = tmp_path / "records"
  _reproduce(name, f"--runs={tmp_path / 'runs1'}", f"--export_records={records}")
  exported = sorted(str(p.relative_to(records)) for p in records.rglob("*") if p.is_file())
  assert exported and not any(p.endswith(".keras") for p in exported)
  runs2 = tmp_path / "runs2"
  _reproduce(name, f"--out={tmp_path / 'second'}", f"--runs={runs2}", f"--import_records={records}")
  first, second = (
    registry.strip_header((tmp_path / run / name / "README.md").read_text(encoding="utf-8"))
    for run in ("first", "second")
  )
  assert second == first
  assert not list(runs2.rglob("*.keras")), "a seed trained again"
  # The seeds' own records (rows, curves, final returns, measurements) are left as imported;
  # run.json and summaries are rewritten by every invocation.
  seed_records = [p for p in exported if "seed_" in p]
  assert seed_records
  for relative in seed_records:
    assert (runs2 / name / relative).read_bytes() == (records / relative).read_bytes(), relative
  # Training is deterministic, so equal reports alone would not show the records were used:
  # an altered record changes the report.
  altered = next(
    records.rglob("seed_0_final.json" if name.startswith("continuous") else "seed_0.json")
  )
  record = json.loads(altered.read_text())
  if "clean" in record:
    record["clean"] = [12345.0] * len(record["clean"])
  else:
    record["real_steps"] = 12345
  altered.write_text(json.dumps(record))
  _reproduce(
    name,
    f"--out={tmp_path / 'third'}",
    f"--runs={tmp_path / 'runs3'}",
    f"--import_records={records}",
  )
  third = registry.strip_header((tmp_path / "third" / name / "README.md").read_text("utf-8"))
  assert third != first


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
