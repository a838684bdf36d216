"""Seeds per hour of a many-seed CartPole table: Ray Tune sweeps against the sequential path.

  nice -n 10 python benchmarks/sweep_throughput.py                  # 32 seeds x 500k steps
  nice -n 10 python benchmarks/sweep_throughput.py --total_steps=100000 \\
      --md=results/sweep_throughput/README.md                                 # results/, README
  python benchmarks/sweep_throughput.py --quick                     # tiny (smoke run)

Every mode trains the same seeds of the same config (thesis CartPole PPO, --network) in a fresh
process, timed from outside, so imports, Ray's start and compilation are all counted:

* `sequential`: `run_experiment` in one process, the seeds in vectorised groups (what
  `launchers.train_ppo` / `reproduce_ppo` do);
* `ray/<k>`: `tf_equirl.sweeps.run_sweep` on a local Ray with --num_cpus CPUs, k seeds per
  trial (a trial is one worker process; its seeds train in the same vectorised groups).

From each trial's `log.jsonl` (`tf_equirl.sweeps.runner.RunStore`) it splits a trial's fixed
cost (worker start-up and imports; building and compiling the learner, i.e. the first seed
group's time above a later group's) from its training time per seed (`trial_costs`), and it
checks that every mode gives the sequential curves bit for bit.
"""

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

_NETWORK = flags.DEFINE_string("network", "gcnn", "Actor network.")
_SEEDS = flags.DEFINE_integer("seeds", 32, "Seeds in the table.")
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", 500_000, "Env steps per seed.")
_MODES = flags.DEFINE_list(
  "modes", ["sequential", "ray/16", "ray/4"], "sequential and/or " "ray/<seeds per trial>."
)
_NUM_CPUS = flags.DEFINE_integer("num_cpus", 2, "CPUs of the local Ray.")
_QUICK = flags.DEFINE_bool(
  "quick", False, "Tiny run: 4 seeds x 2,048 steps, modes " "sequential and ray/2."
)
_MD = flags.DEFINE_string("md", None, "Write the table (with the command) to this markdown file.")
_MODE = flags.DEFINE_string("_mode", None, "Internal: run one mode in this process.")
_WORK = flags.DEFINE_string("_work", None, "Internal: folder of the run.")


def _config(total):
  from tf_equirl.agents.ppo import default_config

  return default_config("CartPole-v1", network=_NETWORK.value, total_steps=total)


def run_child(mode, work, seeds, total):
  config = _config(total)
  if mode == "sequential":
    from tf_equirl.runner import run_experiment

    result = run_experiment(config, seeds, progress=False)
    np.save(os.path.join(work, "curves.npy"), result.curves)
    seed_s = config.num_iterations * config.batch_size / result.steps_per_second
    first_call_steps = config.iterations_per_call * config.batch_size
    with open(os.path.join(work, "costs.json"), "w") as f:  # same split as trial_costs
      json.dump(
        {
          "seed_s": seed_s,
          "compile_s": result.compile_seconds - first_call_steps / result.steps_per_second,
        },
        f,
      )
    return
  from tf_equirl import sweeps

  per_trial = int(mode.split("/")[1])
  result = sweeps.run_sweep(
    "ppo",
    {},
    seeds,
    os.path.join(work, "sweep"),
    base=config,
    seeds_per_trial=per_trial,
    num_cpus=_NUM_CPUS.value,
  )
  np.save(os.path.join(work, "curves.npy"), result.configs[0].curves)


def trial_costs(sweep_dir, config):
  """Per trial: worker start-up (process start to trial; 0 on a reused worker), build +
  compile and training s per seed. A trial's seeds train in vectorised groups
  (`tf_equirl.runner.default_seed_batch`), one group after another: the first group's time
  above a later group's is the build and compilation, a later group's time over its seeds
  the training per seed (both NaN for a trial of one group)."""
  from tf_equirl.runner import default_seed_batch

  parts = []
  for key in os.listdir(os.path.join(sweep_dir, "runs")):
    with open(os.path.join(sweep_dir, "runs", key, "log.jsonl")) as f:
      events = [json.loads(line) for line in f]
    attempts = {}  # trials of one configuration share its log: split by trial and worker
    for e in events:
      attempts.setdefault((e["trial_id"], e["pid"]), []).append(e)
    parts += list(attempts.values())
  rows, seen = [], set()
  for part in sorted(parts, key=lambda p: p[0]["time"]):
    starts = [e["time"] for e in part if e["event"] == "start"]
    finishes = sorted(e["time"] for e in part if e["event"] == "finish")
    if not starts or not finishes:
      continue
    size = default_seed_batch(config, len(finishes)) if len(finishes) > 1 else 1
    ends = [max(finishes[i : i + size]) for i in range(0, len(finishes), size)]
    durations = np.diff([min(starts)] + ends)
    first = part[0]
    fresh = first["pid"] not in seen and first.get("process_start") is not None
    seen.add(first["pid"])
    later = float(np.median(durations[1:])) if len(durations) > 1 else float("nan")
    rows.append(
      {
        "startup_s": first["entered"] - first["process_start"] if fresh else 0.0,
        "first_group_s": float(durations[0]),
        "seed_s": later / size,
        "compile_s": float(durations[0]) - later,
        "seeds": len(finishes),
      }
    )
  return rows


def main(argv):
  del argv
  seeds_n, total = (4, 2048) if _QUICK.value else (_SEEDS.value, _TOTAL_STEPS.value)
  seeds = list(range(seeds_n))
  if _MODE.value:
    run_child(_MODE.value, _WORK.value, seeds, total)
    return
  modes = ["sequential", "ray/2"] if _QUICK.value else _MODES.value
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
  rows, reference = [], None
  load_before = os.getloadavg()
  for mode in modes:
    work = tempfile.mkdtemp(prefix="sweep_throughput_")
    start = time.perf_counter()
    proc = subprocess.run(
      [
        sys.executable,
        os.path.abspath(__file__),
        f"--_mode={mode}",
        f"--_work={work}",
        f"--seeds={seeds_n}",
        f"--total_steps={total}",
        f"--network={_NETWORK.value}",
        f"--num_cpus={_NUM_CPUS.value}",
      ]
      + (["--quick"] if _QUICK.value else []),
      env=env,
      capture_output=True,
      text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
      raise RuntimeError(f"{mode} failed:\n{proc.stderr[-4000:]}")
    curves = np.load(os.path.join(work, "curves.npy"))
    reference = curves if reference is None else reference
    row = {
      "mode": mode,
      "wall_s": wall,
      "seeds_per_hour": seeds_n * 3600 / wall,
      "identical": bool(np.array_equal(curves, reference)),
      "final_return": float(curves[:, -10:].mean()),
    }
    if mode == "sequential":
      with open(os.path.join(work, "costs.json")) as f:
        row.update(json.load(f))
    if mode.startswith("ray/"):
      costs = trial_costs(os.path.join(work, "sweep"), _config(total))
      fresh = [c["startup_s"] for c in costs if c["startup_s"] > 0]
      row.update(
        trials=len(costs),
        workers=len(fresh),
        startup_s=float(np.median(fresh)) if fresh else float("nan"),
        compile_s=float(np.nanmedian([c["compile_s"] for c in costs])),
        seed_s=float(np.nanmedian([c["seed_s"] for c in costs])),
      )
    rows.append(row)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(row), flush=True)
  base = rows[0]["seeds_per_hour"]
  command = "python benchmarks/sweep_throughput.py " + " ".join(sys.argv[1:])
  lines = [
    f"CartPole-v1 PPO ({_NETWORK.value} actor), {seeds_n} seeds x {total:,} env steps, "
    f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), local Ray "
    f"with {_NUM_CPUS.value} CPUs; load average before the run "
    f"{load_before[0]:.1f}"
    + (" (other work shares these cores)." if load_before[0] > 1.5 else "."),
    "",
    "| mode | trials (workers) | wall s | seeds / hour | vs first mode | worker start-up s "
    "| per trial: build + compile s | training s per seed | curves identical |",
    "|---|---|---|---|---|---|---|---|---|",
  ]
  for r in rows:
    trial = f"{r['trials']} ({r['workers']}) | " if "trials" in r else "1 process | "
    cost = (f"{r['startup_s']:.1f} | " if "trials" in r else "- | ") + (
      "- | -" if np.isnan(r["seed_s"]) else f"{r['compile_s']:.1f} | {r['seed_s']:.2f}"
    )
    lines.append(
      f"| {r['mode']} | {trial}{r['wall_s']:.0f} | {r['seeds_per_hour']:,.0f} | "
      f"{r['seeds_per_hour'] / base:.2f}x | {cost} | {r['identical']} |"
    )
  table = "\n".join(lines) + "\n"
  print("\n" + table)
  print(
    "seeds/s and env steps/s: "
    + ", ".join(f"{r['mode']} {r['seeds_per_hour'] / 3600 * total:,.0f} env steps/s" for r in rows)
  )
  if _MD.value:
    with open(_MD.value, "w") as f:
      f.write("# Sweep throughput: Ray Tune against the sequential path\n\n")
      f.write(f"Command: `{command}`\n\n{table}")


if __name__ == "__main__":
  app.run(main)
