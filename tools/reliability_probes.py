"""Runs the reliability probes and writes docs/reliability.md: `python tools/reliability_probes.py`.

Each probe is a command a user could type (a bad flag value, a run that diverges, an output
folder that holds another run, ...) or the test that injects a fault no command can (a SIGKILL
after a checkpoint, a garbage compilation-cache entry, a worker node lost mid-sweep). The page
lists each probe, its command, what the library guarantees and what the command did on the
current code: its exit status and the line it printed last. Every command runs in a fresh
temporary folder from the repository's root.

  python tools/reliability_probes.py                  # every probe (about 10 minutes)
  python tools/reliability_probes.py --skip_slow      # without the slow tests
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = "python -m launchers.train_ppo"
# A run small enough to reach its first failure in a few seconds.
TINY = (
  "--env=Catch-v0 --network=mlp --total_steps=2048 --num_envs=4 --num_steps=32 "
  "--no_progress --no_tensorboard --xla_cache="
)


@dataclasses.dataclass
class Probe:
  area: str
  guarantee: str
  command: str  # run by bash in a temporary folder; {tmp} is that folder
  expect_status: str  # "0", "non-zero", or a number
  expect_text: str = ""  # a regular expression the output must contain
  slow: bool = False


def _pytest(nodes: str) -> str:
  return f"python -m pytest -q -p no:cacheprovider {nodes}"


PROBES: List[Probe] = [
  # 1. Same seed, same curve on any machine.
  Probe(
    "same curve on any CPU",
    "Every basis that feeds a parameter is canonical: the same "
    "with OpenBLAS' SSE3 and AVX2 kernels as with this CPU's own, and the tiny PPO runs "
    "of every network match their references with AVX2 kernels.",
    "OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 "
    + _pytest("tests/test_canonical_bases.py 'tests/test_ppo.py::test_tiny_run_every_network'"),
    "0",
    r"\d+ passed",
  ),
  Probe(
    "same curve on any CPU",
    "A seed's actor-critic curve is the same with TensorFlow's intra-op pool at one thread "
    "and at two (the pool of the committed continuous-control records; "
    "`TF_NUM_INTRAOP_THREADS=2` sets it on a larger machine). With four threads or more "
    "XLA's multi-threaded matrix products round the G-CNN differently "
    "([note](notes/xla_threads.md)).",
    "python benchmarks/xla_threads.py --networks=gcnn --threads=1,2 --total_steps=6000 "
    "--timing_steps=0 | grep 'multi-threaded | 2 |'",
    "0",
    r"\| gcnn \| multi-threaded \| 2 \| \w+ \| same curve \|",
    slow=True,
  ),
  # 2. Diverged training is an error.
  Probe(
    "divergence",
    "A non-finite learning rate is refused before training.",
    f"{TRAIN} --network=mlp --learning_rate=inf --total_steps=20480 --out={{tmp}}/a",
    "non-zero",
    r"learning_rate",
  ),
  Probe(
    "divergence",
    "A NaN entropy coefficient is refused before training.",
    f"{TRAIN} {TINY} --ent_coef=nan --out={{tmp}}/a",
    "non-zero",
    r"ent_coef",
  ),
  Probe(
    "divergence",
    "A run whose losses or parameters become non-finite stops with an error "
    "naming the seed and the iteration, exit status 1; run.json says failed and no "
    "summary is written.",
    f"{TRAIN} {TINY} --learning_rate=1e30 --out={{tmp}}/a; s=$?; "
    'grep -o \'"status": "failed"\' {tmp}/a/run.json; ls {tmp}/a; exit $s',
    "1",
    r"training diverged: seed 0, iteration \d+",
  ),
  # 3. Resume only what matches.
  Probe(
    "resume",
    "An --out holding another configuration's run is refused; --resume does " "not take it either.",
    f"{TRAIN} {TINY} --out={{tmp}}/a && {TRAIN} {TINY} --learning_rate=1e-3 "
    f"--out={{tmp}}/a --resume",
    "non-zero",
    r"another configuration",
  ),
  Probe(
    "resume",
    "An --out holding a run is refused without --resume or --overwrite.",
    f"{TRAIN} {TINY} --out={{tmp}}/a && {TRAIN} {TINY} --network=gcnn --out={{tmp}}/a",
    "non-zero",
    r"already holds a run",
  ),
  Probe(
    "resume",
    "--overwrite replaces the run the folder holds.",
    f"{TRAIN} {TINY} --out={{tmp}}/a && {TRAIN} {TINY} --network=gcnn --out={{tmp}}/a "
    "--overwrite",
    "0",
    r"wrote",
  ),
  Probe(
    "resume",
    "An interrupted launcher (SIGINT, SIGKILL right after a checkpoint) resumes "
    "with --resume to the CSVs of an uninterrupted run; finished seeds are reused only "
    "with a matching fingerprint (config, seed, code version); a reproduction never "
    "reuses another configuration's seeds.",
    _pytest("tests/test_runs.py"),
    "0",
    r"\d+ passed",
    slow=True,
  ),
  # 4. Check before the work starts.
  Probe(
    "checks first",
    "An --out that is a file fails before training.",
    f"touch {{tmp}}/f; {TRAIN} {TINY} --out={{tmp}}/f",
    "non-zero",
    r"is a file",
  ),
  Probe(
    "checks first",
    "An --out below a file (not writable) fails before training.",
    f"touch {{tmp}}/f; {TRAIN} {TINY} --out={{tmp}}/f/run",
    "non-zero",
    r"not writable",
  ),
  Probe(
    "checks first",
    "Duplicate seeds are an error.",
    f"{TRAIN} {TINY} --seeds=1,1 --out={{tmp}}/a",
    "non-zero",
    r"seed",
  ),
  Probe(
    "checks first",
    "Negative seeds are an error.",
    f"{TRAIN} {TINY} --seeds=-1,2 --out={{tmp}}/a",
    "non-zero",
    r"seed",
  ),
  Probe(
    "checks first",
    "A negative width is an error.",
    f"{TRAIN} {TINY} --width=-4 --out={{tmp}}/a",
    "non-zero",
    r"width",
  ),
  Probe(
    "checks first",
    "Width 0 is an error (it does not train another width).",
    f"{TRAIN} {TINY} --width=0 --out={{tmp}}/a",
    "non-zero",
    r"width",
  ),
  Probe(
    "checks first",
    "Checkpoints that are not integers are an error.",
    f"{TRAIN} {TINY} --checkpoints=10k --out={{tmp}}/a",
    "non-zero",
    r"checkpoints",
  ),
  Probe(
    "checks first",
    "reproduce_ppo with zero seeds is an error.",
    "python -m launchers.reproduce_ppo --seeds=0 --runs={tmp}/r --results={tmp}/res",
    "non-zero",
    r"seeds",
  ),
  Probe(
    "checks first",
    "train_ppo takes a symmetry-breaking variant of an environment.",
    f"{TRAIN} {TINY} --env=Catch-v0:global:0.5 --out={{tmp}}/a",
    "0",
    r"wrote",
  ),
  Probe(
    "checks first",
    "A compilation cache path that is a file is a usage error.",
    f"touch {{tmp}}/f; {TRAIN} {TINY.replace('--xla_cache=', '')} --xla_cache={{tmp}}/f "
    "--out={tmp}/a",
    "non-zero",
    r"xla_cache",
  ),
  Probe(
    "checks first",
    "A sweep's bad sampler is a one-line error.",
    "python -m launchers.sweep --env=Catch-v0 --sample=ent_coef=loguniform:abc "
    "--seeds=1 --out={tmp}/s",
    "non-zero",
    r"ent_coef",
  ),
  Probe(
    "checks first",
    "A sweep's --out that is a file is a one-line error.",
    "touch {tmp}/f; python -m launchers.sweep --env=Catch-v0 --seeds=1 --out={tmp}/f",
    "non-zero",
    r"file",
  ),
  Probe(
    "checks first",
    "A sweep checks --env, the group and every grid value before Ray "
    "starts, and a sweep that finished no seed can be rerun into its folder; an "
    "interrupted sweep exits non-zero and says how many seeds are missing.",
    _pytest("tests/test_sweeps.py"),
    "0",
    r"\d+ passed",
    slow=True,
  ),
  # 5. The XLA cache never breaks a run.
  Probe(
    "compilation cache",
    "A garbage or truncated cache entry is dropped and recompiled; "
    "a read-only cache folder falls back to no cache; leftover folders of dead processes "
    "are removed; a warm run prints no libprotobuf error.",
    _pytest("tests/test_compilation.py"),
    "0",
    r"\d+ passed",
    slow=True,
  ),
  # 6-7. Sweeps equal train_ppo; a cluster, simulated (in tests/test_sweeps.py, slow marker).
  Probe(
    "sweeps",
    "A sweep trial's CSVs equal train_ppo's bit for bit on defaults, and a "
    "sweep on a simulated 2-node Ray cluster places trials on both nodes and completes "
    "with every seed once after its worker node is killed.",
    _pytest("-m slow tests/test_sweeps.py tests/test_sweeps_cluster.py"),
    "0",
    r"\d+ passed",
    slow=True,
  ),
]


def _last_line(text: str) -> str:
  lines = [
    line.strip()
    for line in text.splitlines()
    if line.strip()
    and not re.match(
      r"^(WARNING|I0000|W0000|E0000|\d{4}-\d\d-\d\d |Gym has|Please upgrade"
      r"|See the migration|  warnings\.warn)",
      line.strip(),
    )
  ]
  return lines[-1][:240] if lines else ""


def run_probe(probe: Probe) -> dict:
  with tempfile.TemporaryDirectory() as tmp:
    command = probe.command.replace("{tmp}", tmp)
    env = dict(
      os.environ,
      TF_CPP_MIN_LOG_LEVEL="3",
      PYTHONPATH=REPO,
      PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    )
    start = time.perf_counter()
    done = subprocess.run(
      ["bash", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=1800
    )
    seconds = time.perf_counter() - start
  output = done.stdout + done.stderr
  status_ok = (
    done.returncode == 0
    if probe.expect_status == "0"
    else done.returncode != 0
    if probe.expect_status == "non-zero"
    else done.returncode == int(probe.expect_status)
  )
  text_ok = not probe.expect_text or re.search(probe.expect_text, output) is not None
  traceback = "Traceback (most recent call last)" in output and probe.expect_status != "0"
  match = re.search(probe.expect_text, output) if probe.expect_text else None
  # the last line that shows the expected text (an error comes after absl's usage text)
  shown = next(
    (line for line in reversed(output.splitlines()) if match and match.group(0) in line), None
  )
  return {
    "status": done.returncode,
    "ok": status_ok and text_ok and not traceback,
    "traceback": traceback,
    "line": (shown or _last_line(output)).strip()[:240],
    "seconds": seconds,
  }


def _commit() -> str:
  try:
    head = subprocess.run(
      ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
      ["git", "status", "--porcelain"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    return head + (" (with uncommitted changes)" if dirty else "")
  except (OSError, subprocess.CalledProcessError):
    return "unknown"


def write_page(path: str, rows, skip_slow: bool, commit: str) -> None:
  """Writes the page: `rows` of `(probe, result or None)`, run on `commit` (read before the
  probes start, so that edits made while they run are not credited to them)."""
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    pass
  lines = [
    "# Reliability: what is guaranteed, and the probes that check it",
    "",
    f"Generated by `python tools/reliability_probes.py{' --skip_slow' if skip_slow else ''}` "
    f"on commit {commit}, {datetime.date.today().isoformat()}, {cpu}, "
    f"{os.cpu_count()} cores. Do not edit by hand: run the command again.",
    "",
    "Each probe runs its command in a fresh temporary folder (`{tmp}`) from the repository's "
    "root. *Expected* is the exit status the guarantee asks for; *last line* is what the "
    "command printed that shows it (an error message, a test summary). A probe whose "
    "command is a test runs the fault injections no command line can (a signal after a "
    "checkpoint, a corrupt cache entry, a lost worker node).",
    "",
    "| area | guarantee | command | expected | exit | held | last line |",
    "|---|---|---|---|---:|---|---|",
  ]
  for probe, row in rows:
    command = probe.command.replace("|", "\\|")
    if row is None:
      lines.append(
        f"| {probe.area} | {probe.guarantee} | `{command}` | {probe.expect_status} "
        "| | not run (--skip_slow) | |"
      )
      continue
    held = "yes" if row["ok"] else ("**no** (traceback)" if row["traceback"] else "**no**")
    line = row["line"].replace("|", "\\|").replace("`", "'")
    lines.append(
      f"| {probe.area} | {probe.guarantee} | `{command}` | {probe.expect_status} | "
      f"{row['status']} | {held} | {line} |"
    )
  lines.append("")
  with open(path, "w") as f:
    f.write("\n".join(lines))


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    "--skip_slow", action="store_true", help="skip the probes that run " "slow tests"
  )
  parser.add_argument("--out", default=os.path.join(REPO, "docs", "reliability.md"))
  args = parser.parse_args(argv)
  commit = _commit()
  rows = []
  for probe in PROBES:
    if probe.slow and args.skip_slow:
      rows.append((probe, None))
      continue
    row = run_probe(probe)
    print(
      f"{'ok  ' if row['ok'] else 'FAIL'} {row['seconds']:6.1f} s  {probe.area}: "
      f"{row['line'][:100]}",
      flush=True,
    )
    rows.append((probe, row))
  os.makedirs(os.path.dirname(args.out), exist_ok=True)
  write_page(args.out, rows, args.skip_slow, commit)
  print(f"wrote {args.out}")
  return 0 if all(r is None or r["ok"] for _, r in rows) else 1


if __name__ == "__main__":
  sys.exit(main())
