"""`python -m launchers.reproduce_all --quick`: the registry's studies end to end on tiny
budgets, one study per test, each in a process of its own, into a temporary folder (slow:
about 40 minutes of one core in all; `tests/run_slow.py` deals the tests to its jobs in
parts). The quick runs cover one study of each kind (`QUICK_RUN`); each other study is the
same report writer on another environment or preset (`COVERED_BY`), its config checked by
tests/test_registry.py and its quick run left to `reproduce_all --quick`. Two studies then
go on from their exported run records in an empty runs folder, and a command naming two
studies, one of which fails, runs the other and names the failure."""

import json

import pytest

from tf_equirl import provenance
from tf_equirl.experiments import registry

from support import run_module

# The studies whose quick run the slow suite makes: one per report writer and part, every
# benchmark, and the studies whose records are checked.
QUICK_RUN = (
  "ppo_catch",
  "ppo_cartpole_purejaxrl_step",
  "ppo_gaps_catch",
  "xla_runtime",
  "dyna_catch",
  "dyna_cartpole_online",
  "dyna_catch_levers",
  "dyna_controlled_catch",
  "transition_catch",
  "approximate_equivariance",
  "continuous_pendulum",
  "continuous_pixels",
  "prae_cartpole",
  "prae_keyroom",
  "forward_overhead",
  "env_throughput",
  "ppo_throughput",
  "dyna_throughput",
  "pixel_throughput",
  "sweep_throughput",
)
# Each other study, and the study of `QUICK_RUN` with its report writer, launcher and part.
COVERED_BY = {
  "ppo_cartpole": "ppo_catch",
  "ppo_catch_large_step": "ppo_catch",
  "ppo_catch_frequent_updates": "ppo_catch",
  "ppo_grid": "ppo_catch",
  "ppo_gaps_cartpole": "ppo_gaps_catch",
  "dyna_cartpole": "dyna_catch",
  "dyna_catch_online": "dyna_cartpole_online",
  "dyna_cartpole_levers": "dyna_catch_levers",
  "dyna_controlled_cartpole": "dyna_controlled_catch",
  "transition_cartpole": "transition_catch",
  "continuous_swingup": "continuous_pendulum",
  "continuous_acrobot": "continuous_pendulum",
  "continuous_reacher": "continuous_pendulum",
  "prae_catch": "prae_keyroom",
  "prae_grid": "prae_keyroom",
}

# The studies whose records are exported and imported after their quick run: one of each
# family whose reports need only records (PRAE, continuous control).
RECORDS_CHECKED = ("continuous_pendulum", "prae_keyroom")


def _reproduce(name, *flags, ok=True):
  """Runs the study's quick budget; with `ok=False` expects a usage error and returns its
  output."""
  proc = run_module(
    "launchers.reproduce_all",
    "--quick",
    f"--only={name}",
    *flags,
    env={"TF_CPP_MIN_LOG_LEVEL": "2"},
    timeout=1500,
  )
  if not ok:
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-5000:]
    return proc.stdout + proc.stderr
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
  return proc


def test_every_study_runs_quick_here_or_shares_the_writer_and_launcher_of_one_that_does():
  assert set(QUICK_RUN) | set(COVERED_BY) == set(registry.names())
  assert not set(QUICK_RUN) & set(COVERED_BY) and set(RECORDS_CHECKED) <= set(QUICK_RUN)

  def launcher(study):  # the program and the part it runs: "launchers.reproduce_dyna levers"
    words = study.command.split()
    parts = [w.split("=", 1)[1] for w in words if w.startswith("--part=")]
    return words[2 if words[1] == "-m" else 1], parts

  for name, covered_by in COVERED_BY.items():
    study, other = registry.get(name), registry.get(covered_by)
    assert covered_by in QUICK_RUN, name
    assert study.run is other.run, f"{name} and {covered_by} write their reports differently"
    assert launcher(study) == launcher(other), (name, study.command, other.command)


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK_RUN)
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
  # Importing into a folder that holds other records of the study (runs3 went on from the
  # altered ones) would replace them: refused, naming the folder, and nothing is copied.
  before = {p: p.read_bytes() for p in (tmp_path / "runs3").rglob("*") if p.is_file()}
  (altered.parent / "seed_0_final.json").write_text(json.dumps({"clean": [1.0]}))
  failed = _reproduce(
    name,
    f"--out={tmp_path / 'fourth'}",
    f"--runs={tmp_path / 'runs3'}",
    f"--import_records={records}",
    ok=False,
  )
  assert "already holds other records of" in failed and "without --import_records" in failed
  assert {p: p.read_bytes() for p in (tmp_path / "runs3").rglob("*") if p.is_file()} == before
  if name.startswith("continuous_"):
    _an_interim_report_of_a_finished_study_is_its_report(tmp_path, name, first)


def _an_interim_report_of_a_finished_study_is_its_report(tmp_path, name, first):
  """`--interim` on the finished quick run trains nothing and writes the same tables and
  comparisons as the study's report, under a paragraph saying it is interim."""
  import re

  _reproduce(name, f"--out={tmp_path / 'interim'}", f"--runs={tmp_path / 'runs1'}", "--interim")
  text = (tmp_path / "interim" / name / "README.md").read_text(encoding="utf-8")
  assert provenance.parse(text).command.endswith("--interim")
  body = registry.strip_header(text)
  paragraph = re.compile(r"\*\*Interim report\.\*\* (\d+) of (\d+) runs [^\n]*\n\n")
  (done, total), *more = paragraph.findall(body)
  assert not more and done == total, body
  command = re.compile(r"^Command: `[^`]*`$", re.M)  # the interim one names its flags
  assert command.sub("", paragraph.sub("", body)) == command.sub("", first)
  assert "Still to come" not in body


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
