"""Whether a seed's curve depends on the number of threads XLA's CPU matrix products use, and
what the single-threaded products cost or save.

  python benchmarks/xla_threads.py                       # Pendulum-v1, gcnn and mlp
  python benchmarks/xla_threads.py --networks=gcnn --threads=1,2,4,8,16 --timing_steps=0
  python benchmarks/xla_threads.py --threads= --repeats=4   # the timing alone

XLA's CPU backend runs matrix products through Eigen on TensorFlow's intra-op thread pool
(XLA flag `--xla_cpu_multi_thread_eigen`, on by default). How Eigen splits a product depends on
how many threads the pool has, so the same seed can round differently on machines with more
cores. This script trains one seed of the continuous-control actor-critic (`run_ac_experiment`,
`--total_steps` env steps) once per intra-op pool size in `--threads`, each in a fresh process
(environment variable `TF_NUM_INTRAOP_THREADS`), with the multi-threaded products
and again with `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false` (each product on the calling
thread), and prints a table: network, products, pool threads, a hash of the seed's curve file
(`seed_0.csv`) and the first evaluation row where it differs from the first row's curve.

It then times both forms as the study launchers train: `--timing_seeds` seeds on `--timing_steps`
env steps, `--timing_seeds` agents at once (`concurrent_seeds`), the
pool at TensorFlow's default size, the two forms alternating `--repeats` times. Rows: network,
products, repeat, training seconds (construction and compilation included); then the ratio of
the mean times. Nothing here is asserted: on another machine the pool sizes whose curves agree
can differ.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

_NETWORKS = flags.DEFINE_list("networks", ["gcnn", "mlp"], "Actor-critic kinds.")
_ENV = flags.DEFINE_string("env", "Pendulum-v1", "Continuous-control environment.")
_THREADS = flags.DEFINE_list(
  "threads", ["1", "2", "4", "16"], "Intra-op pool sizes of the curves; empty skips them."
)
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", 6000, "Env steps of each curve's run.")
_EVAL_EVERY = flags.DEFINE_integer(
  "eval_every", 0, "Env steps between a curve's evaluations (a divisor of total_steps); 0: a third."
)
_TIMING_STEPS = flags.DEFINE_integer("timing_steps", 10_000, "Env steps per timed seed; 0 skips.")
_TIMING_SEEDS = flags.DEFINE_integer("timing_seeds", 2, "Seeds (and agents at once) timed.")
_REPEATS = flags.DEFINE_integer("repeats", 2, "Timed runs of each form, alternating.")
_CHILD = flags.DEFINE_string("child", None, "Internal: JSON job of one child process.")

_SINGLE_FLAG = "--xla_cpu_multi_thread_eigen=false"


def _config(network: str, total_steps: int, eval_every: int):
  # pylint: disable-next=import-outside-toplevel
  from tf_equirl.agents.ac import ACConfig

  return ACConfig(
    env=_ENV.value,
    network=network,
    total_steps=total_steps,
    eval_every=eval_every,
    random_steps=500,
    noise_steps=1_000,
    update_every=2,
    eval_episodes=2,
    final_episodes=2,
  )


def _child(job: dict) -> None:
  """Runs one job in this fresh process and prints its JSON result as the last line."""
  from tf_equirl.agents.ac.experiment import run_ac_experiment  # pylint: disable=import-outside-toplevel

  seeds = list(range(job["seeds"]))
  config = _config(job["network"], job["total_steps"], job["eval_every"])
  with tempfile.TemporaryDirectory(prefix="xla_threads_") as out:
    start = time.perf_counter()
    run_ac_experiment(config, seeds, out_dir=out, save_models=False, concurrent_seeds=len(seeds))
    seconds = time.perf_counter() - start
    with open(os.path.join(out, "seed_0.csv"), encoding="utf-8") as f:
      rows = f.read().splitlines()
  print(json.dumps(dict(seconds=seconds, rows=rows)))


def _run(network: str, threads: int, single: bool, seeds: int, steps: int, every: int) -> dict:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  env.pop("TF_NUM_INTRAOP_THREADS", None)
  if threads:
    env["TF_NUM_INTRAOP_THREADS"] = str(threads)  # the pool TensorFlow makes when it starts
  flags_now = env.get("XLA_FLAGS", "").split()
  flags_now = [f for f in flags_now if not f.startswith("--xla_cpu_multi_thread_eigen")]
  env["XLA_FLAGS"] = " ".join(flags_now + ([_SINGLE_FLAG] if single else []))
  job = dict(network=network, threads=threads, seeds=seeds, total_steps=steps, eval_every=every)
  done = subprocess.run(
    [sys.executable, os.path.abspath(__file__), f"--child={json.dumps(job)}"],
    env=env,
    cwd=REPO,
    capture_output=True,
    text=True,
    check=False,
  )
  if done.returncode != 0:
    raise RuntimeError(f"child {job} (single={single}) failed:\n{done.stderr[-3000:]}")
  return json.loads(done.stdout.strip().splitlines()[-1])


def _first_difference(rows, reference) -> str:
  for a, b in zip(rows[1:], reference[1:]):
    if a != b:
      return f"differs from env step {a.split(',')[0]}"
  return "same curve" if len(rows) == len(reference) else "other length"


def main(argv):
  del argv
  if _CHILD.value:
    _child(json.loads(_CHILD.value))
    return
  threads = [int(t) for t in _THREADS.value]
  steps = _TOTAL_STEPS.value
  every = _EVAL_EVERY.value or max(steps // 3, 1)
  for network in _NETWORKS.value:  # a config ACConfig rejects fails here, before any child runs
    if threads:
      _config(network, steps, every)
    if _TIMING_STEPS.value > 0:
      _config(network, _TIMING_STEPS.value, _TIMING_STEPS.value)
  if threads:
    print(f"# {_ENV.value}, {steps:,} env steps, seed 0; curve compared with the first row's")
    print(
      "| network | products | pool threads | curve (sha256 of seed_0.csv) | against first row |"
    )
    print("|---|---|---|---|---|")
  for network in _NETWORKS.value if threads else ():
    reference = None
    for single in (False, True):
      for n in threads:
        rows = _run(network, n, single, 1, steps, every)["rows"]
        reference = reference or rows
        digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
        form = "single-threaded" if single else "multi-threaded"
        print(
          f"| {network} | {form} | {n} | {digest} | {_first_difference(rows, reference)} |",
          flush=True,
        )
  if _TIMING_STEPS.value <= 0:
    return
  seeds = _TIMING_SEEDS.value
  print(
    f"\n# {seeds} seeds x {_TIMING_STEPS.value:,} env steps, {seeds} agents at once, "
    "default pool; training seconds"
  )
  print("| network | products | repeat | seconds |")
  print("|---|---|---|---|")
  for network in _NETWORKS.value:
    times = {False: [], True: []}
    for r in range(_REPEATS.value):
      for single in (False, True) if r % 2 == 0 else (True, False):
        t = _run(network, 0, single, seeds, _TIMING_STEPS.value, _TIMING_STEPS.value)["seconds"]
        times[single].append(t)
        form = "single-threaded" if single else "multi-threaded"
        print(f"| {network} | {form} | {r} | {t:.1f} |", flush=True)
    ratio = (sum(times[False]) / len(times[False])) / (sum(times[True]) / len(times[True]))
    print(f"{network}: multi-threaded / single-threaded mean time = {ratio:.2f}")


if __name__ == "__main__":
  app.run(main)
