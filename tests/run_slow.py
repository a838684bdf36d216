"""Runs the slow tests (`pytest -m slow`) with one pytest process per test file.

  python tests/run_slow.py              # every file with slow tests, as .ci/run does
  python tests/run_slow.py -x -k sweep  # extra arguments go to each pytest run

TensorFlow does not give back the memory of the programs it has traced and compiled, so one
process running all the slow tests grows past 20 GB. A process per file returns it after each
file and keeps the peak to the largest file's. Exits non-zero when any file fails, after
running them all, and lists the failed files.
"""

import glob
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NO_TESTS = 5  # pytest's exit status when the marker selects nothing in a file


def slow_files():
  """The test files that mark some test `slow`, sorted."""
  found = []
  for path in sorted(glob.glob(os.path.join(REPO, "tests", "test_*.py"))):
    with open(path, encoding="utf-8") as f:
      if "mark.slow" in f.read():
        found.append(os.path.relpath(path, REPO))
  return found


def main(argv):
  failed, start = [], time.perf_counter()
  files = slow_files()
  for path in files:
    print(f"== {path}", flush=True)
    code = subprocess.call(
      [sys.executable, "-m", "pytest", "-q", "-m", "slow", "--durations=5", *argv, path],
      cwd=REPO,
    )
    if code not in (0, _NO_TESTS):
      failed.append(path)
  minutes = (time.perf_counter() - start) / 60
  if failed:
    print(f"{len(failed)} of {len(files)} files failed ({minutes:.1f} min): {', '.join(failed)}")
    return 1
  print(f"slow tests of {len(files)} files passed ({minutes:.1f} min)")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
