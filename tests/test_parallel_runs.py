"""Running work two processes at a time: `launchers.reproduce_all --jobs` and
`tests/run_slow.py`; the suite's own processes take Ctrl-C even when started with it
ignored."""

import json
import os
import signal
import subprocess
import sys

import pytest

from launchers import common, reproduce_all

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
import run_slow  # noqa: E402


def test_study_processes_at_once_each_log_their_output_and_the_failures_are_named(
  tmp_path, monkeypatch, capsys
):
  codes = {"a": 0, "b": 3, "c": 0, "d": 1}

  def fake_process(name, out, runs):
    return [sys.executable, "-c", f"print('output of {name}'); raise SystemExit({codes[name]})"]

  monkeypatch.setattr(reproduce_all, "study_process", fake_process)
  failed = reproduce_all.run_processes(list(codes), str(tmp_path), str(tmp_path), jobs=2)
  assert failed == ["b", "d"]
  printed = capsys.readouterr().out
  for name in codes:
    log = (tmp_path / name / "reproduce.log").read_text()
    assert log.strip() == f"output of {name}"
    assert f"output of {name}" in printed
  assert "!! b failed (exit status 3)" in printed and "!! d failed (exit status 1)" in printed
  assert "!! a failed" not in printed


@pytest.mark.parametrize("jobs", [1, 2])
def test_each_study_process_gets_the_xla_flags_its_runs_train_under(
  tmp_path, monkeypatch, capfd, jobs
):
  def fake_process(name, out, runs):
    return [sys.executable, "-c", "import os; print('flags', repr(os.environ.get('XLA_FLAGS')))"]

  monkeypatch.setattr(reproduce_all, "study_process", fake_process)
  monkeypatch.setenv("XLA_FLAGS", "--xla_other=1")
  environs = {"a": common.xla_environ(("--xla_cpu_multi_thread_eigen=false",)), "b": None}
  failed = reproduce_all.run_processes(
    ["a", "b"], str(tmp_path), str(tmp_path), jobs=jobs, environs=environs
  )
  assert failed == []
  printed = capfd.readouterr().out  # with one job the processes print to this one's output
  assert "flags '--xla_other=1 --xla_cpu_multi_thread_eigen=false'" in printed  # a
  assert "flags '--xla_other=1'\n" in printed  # b: this process' environment


def test_xla_environ_replaces_a_flag_of_the_same_name_and_keeps_the_others(monkeypatch):
  single = ("--xla_cpu_multi_thread_eigen=false",)
  monkeypatch.delenv("XLA_FLAGS", raising=False)
  assert common.xla_environ(single)["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false"
  monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true --xla_other=1")
  environ = common.xla_environ(single)
  assert environ["XLA_FLAGS"] == "--xla_other=1 --xla_cpu_multi_thread_eigen=false"
  assert environ["PATH"] == os.environ["PATH"]
  assert os.environ["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true --xla_other=1"
  monkeypatch.setenv("XLA_FLAGS", "--xla_other=1 --xla_cpu_multi_thread_eigen=false")
  assert common.xla_environ(single) is None
  assert common.xla_environ(()) is None


@pytest.mark.parametrize(
  "module, flags",
  [
    ("launchers.reproduce_all", ["--only=continuous_swingup", "--out={out}", "--runs={runs}"]),
    (
      "launchers.reproduce_continuous",
      ["--tasks=swingup", "--results={out}", "--runs={runs}"],
    ),
  ],
)
def test_a_study_with_xla_flags_trains_in_a_process_started_with_them(tmp_path, module, flags):
  """The launchers start the swing-up study's process with single-threaded products in
  XLA_FLAGS (the invocation it records says so); a broken run record of its first cell then
  stops it before anything trains, and the launcher exits with the child's failure."""
  from support import run_module

  out, runs = tmp_path / "results", tmp_path / "runs"
  first = runs / "continuous_swingup" / "CartPoleSwingup-v0" / "mlp"
  first.mkdir(parents=True)
  (first / "run.json").write_text("{not json")
  proc = run_module(
    module,
    *[f.format(out=out, runs=runs) for f in flags],
    env={"TF_CPP_MIN_LOG_LEVEL": "2", "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true"},
    timeout=600,
  )
  text = proc.stdout + proc.stderr
  assert proc.returncode != 0, text[-3000:]
  assert "== continuous_swingup (XLA_FLAGS=--xla_cpu_multi_thread_eigen=false)" in text
  assert "run.json is unreadable or corrupt" in text, text[-3000:]
  with open(runs / "continuous_swingup" / "invocations.json", encoding="utf-8") as f:
    (invocation,) = json.load(f)
  assert invocation["xla_flags"] == "--xla_cpu_multi_thread_eigen=false"


def test_slow_files_start_with_the_longest_and_each_named_file_exists():
  files = [os.path.basename(path) for path in run_slow.slow_files()]
  assert files[: len(run_slow._LONGEST_FIRST)] == list(run_slow._LONGEST_FIRST)
  rest = files[len(run_slow._LONGEST_FIRST) :]
  assert rest == sorted(rest) and len(set(files)) == len(files)


@pytest.mark.parametrize(
  "argv, jobs, rest",
  [
    (["--jobs=1", "-x"], 1, ["-x"]),
    (["-k", "sweep", "--jobs", "3"], 3, ["-k", "sweep"]),
    (["-x"], min(2, os.cpu_count() or 1), ["-x"]),
  ],
)
def test_run_slow_takes_its_jobs_and_passes_the_rest_to_pytest(argv, jobs, rest):
  assert run_slow.parse_jobs(argv) == (jobs, rest)


@pytest.mark.parametrize("value", ["0", "two", ""])
def test_run_slow_refuses_a_jobs_count_that_is_not_positive(value):
  proc = subprocess.run(
    [sys.executable, os.path.join(REPO, "tests", "run_slow.py"), f"--jobs={value}"],
    capture_output=True,
    text=True,
    timeout=60,
  )
  assert proc.returncode != 0
  assert f"--jobs expects a positive integer, received {value!r}" in proc.stderr


def test_run_slow_deals_a_split_files_tests_into_parts_and_keeps_other_files_whole():
  target = "tests/test_reproduce_all.py"
  everything = run_slow.collect(target, [])
  assert len(everything) > 10  # one test per study of the registry, and more
  got = run_slow.units([target, "tests/test_sweeps.py"], [], split={"test_reproduce_all.py": 3})
  assert [label for label, _ in got] == [
    f"{target} (part 1 of 3)",
    f"{target} (part 2 of 3)",
    f"{target} (part 3 of 3)",
    "tests/test_sweeps.py",
  ]
  parts = [targets for _, targets in got[:3]]
  assert sorted(sum(parts, [])) == sorted(everything)  # each test in exactly one part
  assert max(map(len, parts)) - min(map(len, parts)) <= 1
  assert got[3][1] == ["tests/test_sweeps.py"]


def test_sigint_raises_here_and_has_its_default_action_in_the_processes_tests_start():
  """What the tests that interrupt a run need (tests/conftest.py)."""
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
  child = subprocess.run(
    [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT).__name__)"],
    capture_output=True,
    text=True,
    timeout=60,
  )
  assert child.stdout.strip() == "default_int_handler", child.stderr[-2000:]


def test_a_suite_started_with_sigint_ignored_still_delivers_it():
  """pytest started the way `nohup` or a background job of a non-interactive shell starts it
  (SIGINT ignored, which children inherit) runs the test above, and it passes."""
  name = "test_sigint_raises_here_and_has_its_default_action_in_the_processes_tests_start"
  proc = subprocess.run(
    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::{name}"],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=300,
    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
  )
  assert proc.returncode == 0 and "1 passed" in proc.stdout, (proc.stdout + proc.stderr)[-3000:]
