"""The registry of results (`tf_equirl.experiments.registry`) and `launchers.reproduce_all`:
names, commands that parse, configs that validate, provenance of the committed results and the
generated results index."""

import dataclasses
import glob
import json
import os
import re
import shlex
import subprocess

import pytest

from tf_equirl import provenance
from tf_equirl.experiments import registry

from support import check_launcher_flags, run_module

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def test_every_study_has_its_own_folder_name():
  names = registry.names()
  assert len(names) == len(set(names)) >= 17
  for name in names:
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
    study = registry.get(name)
    assert study.section in registry.SECTIONS
    assert study.title and study.seeds and study.budget
  with pytest.raises(ValueError, match="ppo_cartpole"):
    registry.get("nope")


def test_every_command_names_an_existing_launcher_whose_flags_parse():
  launchers, scripts = [], []
  for study in registry.studies():
    words = shlex.split(study.command)
    assert words[0] == "python", study.command
    if words[1] == "-m":
      assert words[2].startswith("launchers."), study.command
      assert os.path.isfile(os.path.join(REPO, *words[2].split(".")) + ".py"), study.command
      launchers.append((f"{study.name}: {study.command}", words[2], words[3:]))
    else:
      scripts.append(words[1])
  assert not [s for s in scripts if not os.path.isfile(os.path.join(REPO, s))]
  report = check_launcher_flags(launchers)
  assert report["checked"] == len(launchers) and not report["errors"], report["errors"]


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
def test_configs_validate_and_write_into_the_study_folder(quick, tmp_path):
  for study in registry.studies():
    target = registry.Target(
      str(tmp_path / study.name),
      str(tmp_path / "runs" / study.name),
      registry.study_command(study.name, quick),
    )
    config = (study.quick if quick else study.full)(target)
    seeds = list(study.seed_list(config))
    if quick:
      assert len(seeds) <= 2, study.name
    text = repr(config)
    assert target.report in text and target.command in text, study.name
  assert not os.listdir(tmp_path)  # building a config writes nothing


def test_quick_budgets_are_tiny():
  from tf_equirl.experiments import dyna_tables, ppo_tables

  target = registry.Target("out", "runs", "cmd")
  for study in registry.studies():
    config = study.quick(target)
    if isinstance(config, ppo_tables.PPOTablesConfig):
      assert config.seeds == 2 and config.total_steps <= 4096
    elif isinstance(config, dyna_tables.DynaTablesConfig):
      assert config.seeds == 2 and config.total_steps <= 4096
      assert len(config.arms()) <= 3
    elif isinstance(config, registry.BenchmarkConfig):
      # the tiny budget, and otherwise only what the full run passes (its runtime, its JSON)
      full = study.full(target)
      assert config.args[0] == "--quick"
      for arg in config.args[1:]:
        assert (arg.startswith("--json=") and arg.endswith(".json")) or arg in full.args, arg


def test_unknown_study_is_a_usage_error_naming_the_studies():
  proc = run_module(
    "launchers.reproduce_all", "--only=nope,ppo_catch", "--list", env=ENV, timeout=120
  )
  assert proc.returncode != 0
  assert "nope" in proc.stderr
  assert "ppo_cartpole" in proc.stderr and "sweep_throughput" in proc.stderr


def test_list_prints_every_study_with_its_command():
  proc = run_module("launchers.reproduce_all", "--list", env=ENV, timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  for study in registry.studies():
    assert f"{study.name}: {study.title}" in proc.stdout
    assert f"  command: {study.command}" in proc.stdout


def _in_git_checkout():
  try:
    return (
      subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
      ).returncode
      == 0
    )
  except OSError:
    return False


def _command_exists(command):
  words = shlex.split(command)
  if words[:2] == ["python", "-m"] and words[2].startswith("launchers."):
    return os.path.isfile(os.path.join(REPO, *words[2].split(".")) + ".py")
  return len(words) > 1 and words[0] == "python" and os.path.isfile(os.path.join(REPO, words[1]))


def test_committed_results_with_provenance_name_an_ancestor_commit_and_a_command():
  checkout = _in_git_checkout()
  bad = []
  for path in sorted(glob.glob(os.path.join(REPO, "results", "**", "README.md"), recursive=True)):
    record = provenance.read(path)
    if record is None:
      continue
    where = os.path.relpath(path, REPO)
    if not _command_exists(record.command):
      bad.append(f"{where}: command {record.command!r} names no launcher or script")
    if checkout:
      proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", record.commit, "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
      )
      if proc.returncode != 0:
        bad.append(f"{where}: commit {record.commit} is not an ancestor of HEAD")
  assert not bad, "\n".join(bad)


def test_every_study_folder_holds_a_report():
  for name in registry.names():
    assert os.path.isfile(os.path.join(REPO, "results", name, "README.md")), name


def test_results_index_page_is_generated_from_the_registry():
  with open(os.path.join(REPO, "docs", "results.md"), encoding="utf-8") as f:
    page = f.read()
  assert (
    page == registry.results_index()
  ), "docs/results.md is out of date: run `python -m launchers.reproduce_all --index`"
  for name in registry.names():
    assert f"`python -m launchers.reproduce_all --only={name}`" in page


def _fake_study(monkeypatch, body, cut=None, training_version=None):
  """A registry of one study whose run writes `body` into its report."""

  def run(target):
    with open(target.report, "w", encoding="utf-8") as f:
      f.write(body + f"\nCommand: `{target.command}`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    return target.report

  study = registry.Study(
    name="fake",
    title="A fake study",
    section="PPO",
    command="python -m launchers.reproduce_ppo --seeds=3",
    seeds="0-2",
    budget="none",
    full=lambda t: t,
    quick=lambda t: t,
    run=run,
    seed_list=lambda t: range(3),
    cut=cut,
    training_version=training_version,
  )
  monkeypatch.setitem(registry._CACHE, "all", (study,))  # pylint: disable=protected-access


def test_run_study_writes_provenance_then_the_report_and_replaces_an_old_header(
  tmp_path, monkeypatch
):
  _fake_study(monkeypatch, "# Fake\n")
  root = str(tmp_path / "results")
  path = registry.run_study("fake", root=root, runs=str(tmp_path / "runs"), quick=True)
  assert path == os.path.join(root, "fake", "README.md")
  text = open(path, encoding="utf-8").read()
  assert text.startswith("<!-- provenance ")
  record = provenance.parse(text)
  assert record.command == "python -m launchers.reproduce_all --only=fake --quick"
  assert record.seeds == "0-2" and record.wall_seconds >= 0
  assert "\n# Fake\n" in text and "| 1 | 2 |" in text
  # A study that keeps the rest of its file (the transition study) leaves the old header in
  # its report: run_study writes exactly one.
  _fake_study(monkeypatch, text.rstrip("\n"))
  again = open(
    registry.run_study("fake", root=root, runs=str(tmp_path / "runs")), encoding="utf-8"
  ).read()
  assert again.count("<!-- provenance ") == 1
  assert provenance.parse(again).command == "python -m launchers.reproduce_all --only=fake"
  assert registry.strip_header(again).startswith("# Fake")


def test_run_study_keeps_the_notes_of_the_last_report(tmp_path, monkeypatch):
  """A study whose writer does not keep the hand-written notes still keeps them: run_study
  carries them over, once."""
  _fake_study(monkeypatch, "# Fake\n")
  root, runs = str(tmp_path / "results"), str(tmp_path / "runs")
  path = registry.run_study("fake", root=root, runs=runs, quick=True)
  with open(path, "a", encoding="utf-8") as f:
    f.write("\n## Notes\n\n- What the table does not say.\n")
  for _ in range(2):
    text = open(registry.run_study("fake", root=root, runs=runs, quick=True)).read()
    assert text.count("## Notes\n\n- What the table does not say.") == 1
    assert text.index("| 1 | 2 |") < text.index("## Notes")


def test_a_study_below_the_thesis_budget_says_so_with_the_cost_of_that_budget(
  tmp_path, monkeypatch
):
  cut = registry.BudgetCut("500,000 real steps", "It does not fit.", 5.0)
  assert "at least 2.5 hours (5 times this run's wall time)" in cut.note(1800.0)
  _fake_study(monkeypatch, "# Fake\n", cut)
  root = str(tmp_path / "results")
  text = open(registry.run_study("fake", root=root, runs=str(tmp_path / "runs"))).read()
  body = registry.strip_header(text)
  assert body.startswith("**Budget below the thesis'.** The thesis: 500,000 real steps. It")
  assert "\n# Fake\n" in body
  # A report that keeps its file gets one note, the new run's; a quick run gets none.
  _fake_study(monkeypatch, body.rstrip("\n"), cut)
  again = open(registry.run_study("fake", root=root, runs=str(tmp_path / "runs"))).read()
  assert again.count("Budget below the thesis") == 1
  _fake_study(monkeypatch, "# Fake\n", cut)
  quick = open(registry.run_study("fake", root=root, runs=str(tmp_path / "runs"), quick=True))
  assert "Budget below" not in quick.read()
  monkeypatch.undo()  # the real registry: the CartPole online studies are below the thesis'
  cuts = [name for name in registry.names() if registry.get(name).cut is not None]
  assert cuts == ["dyna_cartpole_online", "dyna_cartpole_levers"]


def test_results_index_reads_each_status(tmp_path, monkeypatch):
  _fake_study(monkeypatch, "# Fake\n")
  root, docs = tmp_path / "results", tmp_path / "docs"
  docs.mkdir()
  page = registry.results_index(str(root), str(docs))
  assert "not made yet" in page
  (root / "fake" / "old").mkdir(parents=True)
  (root / "fake" / "README.md").write_text("# Fake\n\nCommand: `python -m x`\n")
  (root / "fake" / "old" / "README.md").write_text("# Older\n\nCommand: `python -m y`\n")
  page = registry.results_index(str(root), str(docs))
  assert (
    "made with older code, no provenance record: regenerate with "
    "`python -m launchers.reproduce_all --only=fake`"
  ) in page
  assert "[old/README.md](../results/fake/old/README.md): Older" in page
  assert "`python -m y` (`--report=results/fake/old/README.md` writes it here)" in page
  registry.run_study("fake", root=str(root), runs=str(tmp_path / "runs"))
  record = provenance.read(str(root / "fake" / "README.md"))
  page = registry.results_index(str(root), str(docs))
  assert f"made at commit `{record.commit[:10]}`" in page and record.date[:10] in page
  registry.run_study("fake", root=str(root), runs=str(tmp_path / "runs"), quick=True)
  page = registry.results_index(str(root), str(docs))
  assert "a smoke run at tiny budgets (`--quick`" in page and "are not results" in page


def test_an_interim_report_is_written_by_the_studys_interim_writer_and_indexed_as_interim(
  tmp_path, monkeypatch
):
  root, runs, docs = tmp_path / "results", str(tmp_path / "runs"), tmp_path / "docs"
  docs.mkdir()
  _fake_study(monkeypatch, "# Fake\n")
  with pytest.raises(ValueError, match="'fake' has no interim report; the studies with one are: "):
    registry.run_study("fake", root=str(root), runs=runs, interim=True)
  assert not root.exists()  # refused before anything was written
  study = registry.get("fake")

  def interim(target):
    with open(target.report, "w", encoding="utf-8") as f:
      f.write("# Fake\n\nThe finished cells.\n")
    return target.report

  monkeypatch.setitem(
    registry._CACHE,  # pylint: disable=protected-access
    "all",
    (dataclasses.replace(study, interim=interim),),
  )
  trained = provenance.read(registry.run_study("fake", root=str(root), runs=runs))
  command = "python -m launchers.reproduce_continuous --interim"
  path = registry.run_study("fake", root=str(root), runs=runs, command=command, interim=True)
  text = open(path, encoding="utf-8").read()
  assert "The finished cells." in text and "| 1 | 2 |" not in text  # not the full writer
  # Its wall time is that of the invocations that trained there; it adds none to the ledger.
  record = provenance.read(path)
  with open(os.path.join(runs, "fake", "invocations.json"), encoding="utf-8") as f:
    (entry,) = json.load(f)
  assert entry["wall_seconds"] >= trained.wall_seconds > 0
  assert (record.wall_seconds, record.invocations) == (entry["wall_seconds"], 1)
  page = registry.results_index(str(root), str(docs))
  record = provenance.read(path)
  assert (
    f"an interim report (`--interim`, commit `{record.commit[:10]}`" in page
    and "the complete study is made with `python -m launchers.reproduce_all --only=fake`" in page
  )
  # The registry's studies with an interim report: the continuous-control ones.
  monkeypatch.undo()
  assert [n for n in registry.names() if registry.get(n).interim is not None] == [
    "continuous_pendulum",
    "continuous_swingup",
    "continuous_acrobot",
    "continuous_reacher",
    "continuous_pixels",
  ]


def test_a_study_resumed_after_a_kill_reports_the_wall_time_of_every_invocation(
  tmp_path, monkeypatch
):
  _fake_study(monkeypatch, "# Fake\n")
  root, runs = str(tmp_path / "results"), str(tmp_path / "runs")
  first = provenance.read(registry.run_study("fake", root=root, runs=runs))
  assert first.invocations == 1
  ledger = os.path.join(runs, "fake", "invocations.json")
  with open(ledger, encoding="utf-8") as f:
    entries = json.load(f)
  # an invocation of the same code and command that was killed after an hour's work
  entries.insert(0, dict(entries[0], pid=0, wall_seconds=3600.0))
  with open(ledger, "w", encoding="utf-8") as f:
    json.dump(entries, f)
  path = registry.run_study("fake", root=root, runs=runs)
  record = provenance.read(path)
  assert record.invocations == 3 and record.wall_seconds >= 3600.0
  assert "over 3 invocations" in open(path, encoding="utf-8").read()
  quick = provenance.read(registry.run_study("fake", root=root, runs=runs, quick=True))
  assert quick.invocations == 1 and quick.wall_seconds < 3600.0


def test_the_wall_time_counts_the_invocations_of_the_code_that_trains_the_studys_runs(
  tmp_path, monkeypatch
):
  """A study whose runs are keyed by part of the library (the continuous-control studies:
  the actor-critic's code) keys its wall-time ledger the same way, so the invocations of
  earlier commits whose runs it reuses count; the others key it by the whole library."""
  from tf_equirl import runs as runs_lib
  from tf_equirl.agents.ac import ACConfig

  for name in registry.names():
    study = registry.get(name)
    continuous = name.startswith("continuous_")
    assert (study.training_version is not None) == continuous, name
    if continuous:
      config = study.quick(registry.Target("f", "r", "c"))
      observation = "pixels" if name == "continuous_pixels" else "state"
      expected = runs_lib.code_version(ACConfig(observation=observation))
      assert study.training_version(config) == expected != runs_lib.code_version()
  assert runs_lib.code_version(ACConfig(observation="pixels")) != runs_lib.code_version(ACConfig())
  root, runs = str(tmp_path / "results"), str(tmp_path / "runs")
  ledger = os.path.join(runs, "fake", "invocations.json")
  counted = []
  for version in ("v1", "v1", "v2"):
    _fake_study(monkeypatch, "# Fake\n", training_version=lambda config, v=version: v)
    counted.append(provenance.read(registry.run_study("fake", root=root, runs=runs)).invocations)
  with open(ledger, encoding="utf-8") as f:
    keys = [entry["key"] for entry in json.load(f)]
  assert [k.split()[0] for k in keys] == ["v1", "v1", "v2"]
  assert counted == [1, 2, 1]  # another version's invocations do not count
  _fake_study(monkeypatch, "# Fake\n")  # the library's version
  registry.run_study("fake", root=root, runs=runs)
  with open(ledger, encoding="utf-8") as f:
    assert json.load(f)[-1]["key"].split()[0] == runs_lib.code_version()
