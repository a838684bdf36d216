"""`python -m launchers.reproduce_all --export_records / --import_records`: a study continues
from the run records of another runs folder without training again (slow: a few minutes per
study on 2 cores; a file of its own so that `tests/run_slow.py` runs it beside
tests/test_reproduce_all.py)."""

import json

import pytest

from tf_equirl.experiments import registry

from support import run_module


@pytest.mark.slow
@pytest.mark.parametrize("name", ["continuous_pendulum", "prae_keyroom"])
def test_a_study_goes_on_from_its_exported_records_without_training_again(tmp_path, name):
  """The records of a finished quick run, exported and imported into an empty runs folder,
  write the same report there, and nothing trains: no model is saved and no seed's row is
  written again."""

  def reproduce(*flags):
    proc = run_module(
      "launchers.reproduce_all",
      "--quick",
      f"--only={name}",
      *flags,
      env={"TF_CPP_MIN_LOG_LEVEL": "2"},
      timeout=1200,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return proc

  records = tmp_path / "records"
  reproduce(f"--out={tmp_path / 'first'}", f"--runs={tmp_path / 'runs1'}")
  reproduce(f"--runs={tmp_path / 'runs1'}", f"--export_records={records}")
  exported = sorted(str(p.relative_to(records)) for p in records.rglob("*") if p.is_file())
  assert exported and not any(p.endswith(".keras") for p in exported)
  runs2 = tmp_path / "runs2"
  reproduce(f"--out={tmp_path / 'second'}", f"--runs={runs2}", f"--import_records={records}")
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
  reproduce(
    f"--out={tmp_path / 'third'}", f"--runs={tmp_path / 'runs3'}", f"--import_records={records}"
  )
  third = registry.strip_header((tmp_path / "third" / name / "README.md").read_text("utf-8"))
  assert third != first
