"""Runs the slow tests (`pytest -m slow`) with one pytest process per test file.

  python tests/run_slow.py              # every file with slow tests, as .ci/run does
  python tests/run_slow.py --jobs=1     # one file at a time (default: two at once)
  python tests/run_slow.py -x -k sweep  # extra arguments go to each pytest run

TensorFlow does not give back the memory of the programs it has traced and compiled, so one
process running all the slow tests grows past 20 GB. A process per file returns it after each
file and keeps the peak to the largest file's. A file of many long tests (`_SPLIT`) runs as
several processes, its tests dealt out among them, so that both jobs share it. Two processes
run at once (`--jobs`, default the smaller of two and the number of CPUs), the longest known
files first; each one's output is printed when it ends. Exits non-zero when any fails, after
running them all, and lists the failed ones.
"""

import glob
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NO_TESTS = 5  # pytest's exit status when the marker selects nothing in a file
# The files whose slow tests take longest, longest first: started first, so that two jobs end
# close together.
_LONGEST_FIRST = (
  "test_reproduce_all.py",
  "test_prae_equivariant.py",
  "test_seed_batch.py",
  "test_dyna_seed_batch.py",
  "test_runner_seeds.py",
  "test_sweeps.py",
  "test_runs.py",
  "test_dyna_controls.py",
  "test_ac.py",
  "test_benchmarks_smoke.py",
  "test_docs.py",
)

# Files run as this many pytest processes, their slow tests dealt out in turn: one quick run
# per test in test_reproduce_all.py, about 40 minutes of one core in all.
_SPLIT = {"test_reproduce_all.py": 4}


def slow_files():
  """The test files that mark some test `slow`: the longest known ones first, then the others
  sorted."""
  found = []
  for path in sorted(glob.glob(os.path.join(REPO, "tests", "test_*.py"))):
    with open(path, encoding="utf-8") as f:
      if "mark.slow" in f.read():
        found.append(os.path.relpath(path, REPO))

  def rank(path):
    name = os.path.basename(path)
    return _LONGEST_FIRST.index(name) if name in _LONGEST_FIRST else len(_LONGEST_FIRST)

  return sorted(found, key=rank)  # stable: the others stay sorted by name


def collect(path, argv):
  """The node ids of the slow tests of `path` that pytest selects with `argv`."""
  proc = subprocess.run(
    [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "slow", *argv, path],
    cwd=REPO,
    capture_output=True,
    text=True,
  )
  return [line for line in proc.stdout.splitlines() if line.startswith(path + "::")]


def units(files, argv, split=None):
  """(label, pytest targets) of each process to run, in the order of `files`: a file as one
  process, or a file of `split` (default `_SPLIT`) as up to that many, its tests dealt out in
  turn."""
  split = _SPLIT if split is None else split
  out = []
  for path in files:
    parts = split.get(os.path.basename(path), 1)
    ids = collect(path, argv) if parts > 1 else []
    if len(ids) < 2:
      out.append((path, [path]))
      continue
    chunks = [ids[k::parts] for k in range(min(parts, len(ids)))]
    out += [(f"{path} (part {k + 1} of {len(chunks)})", c) for k, c in enumerate(chunks)]
  return out


def parse_jobs(argv):
  """Splits `--jobs=N` / `--jobs N` off `argv`; returns (jobs, the rest for pytest)."""
  jobs, rest, i = min(2, os.cpu_count() or 1), [], 0
  while i < len(argv):
    arg = argv[i]
    if arg == "--jobs" or arg.startswith("--jobs="):
      value = arg.partition("=")[2] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else "")
      i += 1 if "=" in arg else 2
      if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"run_slow.py: --jobs expects a positive integer, received {value!r}")
      jobs = int(value)
      continue
    rest.append(arg)
    i += 1
  return jobs, rest


def main(argv):
  jobs, argv = parse_jobs(argv)
  failed, start = [], time.perf_counter()
  files = slow_files()
  todo = units(files, argv)
  pending, running = list(todo), {}
  with tempfile.TemporaryDirectory(prefix="run_slow_") as logs:
    while pending or running:
      while pending and len(running) < jobs:
        label, targets = pending.pop(0)
        log = open(os.path.join(logs, f"{len(todo) - len(pending)}.log"), "w+")  # noqa: SIM115
        proc = subprocess.Popen(
          [sys.executable, "-m", "pytest", "-q", "-m", "slow", "--durations=5", *argv, *targets],
          cwd=REPO,
          stdout=log,
          stderr=subprocess.STDOUT,
        )
        running[label] = (proc, log, time.perf_counter())
      time.sleep(0.5)
      for label, (proc, log, began) in list(running.items()):
        if proc.poll() is None:
          continue
        del running[label]
        log.seek(0)
        print(f"== {label} ({time.perf_counter() - began:.0f} s)\n{log.read()}", end="", flush=True)
        log.close()
        if proc.returncode not in (0, _NO_TESTS):
          failed.append(label)
  minutes = (time.perf_counter() - start) / 60
  if failed:
    labels = [label for label, _ in todo]
    failed.sort(key=labels.index)
    print(
      f"{len(failed)} of {len(todo)} test processes failed ({minutes:.1f} min): {', '.join(failed)}"
    )
    return 1
  print(
    f"slow tests of {len(files)} files passed in {len(todo)} processes ({minutes:.1f} min, "
    f"{jobs} at a time)"
  )
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
