"""tf_equirl's PPO against PureJaxRL's, side by side: whole-process time and time after compilation.

  python benchmarks/vs_purejaxrl.py                 # 3 rounds, writes results/ppo_throughput/README.md
  python benchmarks/vs_purejaxrl.py --repeats=5 --cases=cartpole_mlp
  python benchmarks/vs_purejaxrl.py --quick --out=  # tiny sizes, no results file (smoke test)

Machines of one kind differ by up to 2x from day to day and the CPU may be shared, so the
two programs are only ever compared within one run of this script: each round runs every case of both
programs one after the other (the order flips every round), and the tables give medians over
the rounds and their ratios. Each run is a fresh process, timed from the outside:

* tf_equirl: the user's command, `python -m launchers.train_ppo --network=... --no_progress`
  (one seed, with everything it writes: CSV, TensorBoard, `.keras` models, summary, figure).
  "After compilation" is the time of its later compiled calls (the first call traces,
  compiles and runs the first 16 iterations), scaled to the whole run's steps. Each case
  runs in every `--tf_modes` mode of `tf_equirl.compilation`: `classic` (XLA's classic CPU
  runtime, `--noxla_runtime`), `cold` (the launcher's default XLA runtime with an empty
  compilation cache: a user's first run) and `warm` (the cache filled by one untimed run of
  the case before the rounds: every later run of the same configuration).
* PureJaxRL: its own `ppo.py`, unchanged, through `../shared/bench/purejaxrl/run_cartpole.py`
  (set up once with its `setup.sh`, which this script runs). It trains twice in one process
  with one jitted function; "after compilation" is the second run, and the whole process of
  one run is the process' wall time less that second run.

CartPole: PureJaxRL's own defaults (500,000 steps; its MLP, learning rate 2.5e-4) against
tf_equirl's defaults (thesis: 3.5e-4) with the MLP and with the G-CNN. Catch: 20,000 steps
with the same PPO settings on both sides (learning rate 3.5e-4, 4 envs x 128 steps, 4 epochs
x 64 minibatches of 8; PureJaxRL cannot split 512 into the thesis' 51 minibatches of 10),
tf_equirl's `Catch-v0` against gymnax's `Catch-bsuite`. The learning rate only changes what is
learned, not the work per step.

Every run records the 1-minute load average before it and the CPU time other processes
used while it ran (from /proc/stat): a busy machine shows there, and its figures are noisy.
"""

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tf_equirl.results import kept_notes  # noqa: E402  (light: no TensorFlow import)

_REPEATS = flags.DEFINE_integer("repeats", 3, "Alternating rounds (medians over these).")
_CASES = flags.DEFINE_list(
  "cases",
  ["cartpole_mlp", "cartpole_gcnn", "catch_mlp", "catch_gcnn"],
  "Cases: cartpole_mlp, cartpole_gcnn, catch_mlp, catch_gcnn.",
)
_PUREJAXRL = flags.DEFINE_string(
  "purejaxrl",
  os.path.join(REPO, "..", "shared", "bench", "purejaxrl"),
  "Folder of the PureJaxRL reference (setup.sh, run_cartpole.py).",
)
_OUT = flags.DEFINE_string(
  "out",
  os.path.join(REPO, "results", "ppo_throughput.md"),
  "Markdown results file ('' for none); a '## Notes' section survives.",
)
_JSON = flags.DEFINE_string("json", None, "Also write every run's figures to this JSON file.")
_TF_MODES = flags.DEFINE_list(
  "tf_modes",
  ["classic", "cold", "warm"],
  "How tf_equirl compiles (tf_equirl.compilation): "
  "classic (XLA's classic CPU runtime, --noxla_runtime), cold (XLA runtime, an empty "
  "compilation cache), warm (XLA runtime, the cache filled by an untimed run before the "
  "rounds: a user's second and later runs).",
)
_QUICK = flags.DEFINE_bool(
  "quick", False, "Tiny sizes (CartPole 4,096 steps, Catch 2,048), 1 round."
)
_TF_PYTHON = flags.DEFINE_string(
  "tf_python",
  None,
  "Python interpreter of the tf_equirl runs (default: this one). A user of "
  "the README's first command has a virtual environment made by `pip install -e .`, without "
  "the test extra, whose pandas Keras imports when it is there (about 0.35 s of every "
  "process); e.g. `python3 -m venv /tmp/main && /tmp/main/bin/pip install -e .` and "
  "--tf_python=/tmp/main/bin/python.",
)

CARTPOLE_STEPS, CATCH_STEPS = 500_000, 20_000
# Catch: the same PPO settings on both sides (see the module docstring).
CATCH_PUREJAXRL = ["--set", "LR=0.00035", "--set", "NUM_MINIBATCHES=64"]
CATCH_TF = ["--num_minibatches=64", "--learning_rate=0.00035"]


def _cases(quick: bool):
  cp, catch = (4096, 2048) if quick else (CARTPOLE_STEPS, CATCH_STEPS)
  # --quick: 2 iterations per compiled call, so that some run after compilation.
  quick_args = ["--iterations_per_call=2"] if quick else []
  return {
    "cartpole_mlp": dict(
      env="CartPole-v1", network="mlp", steps=cp, tf_args=quick_args, pjr="cartpole"
    ),
    "cartpole_gcnn": dict(
      env="CartPole-v1", network="gcnn", steps=cp, tf_args=quick_args, pjr="cartpole"
    ),
    "catch_mlp": dict(
      env="Catch-v0", network="mlp", steps=catch, tf_args=CATCH_TF + quick_args, pjr="catch"
    ),
    "catch_gcnn": dict(
      env="Catch-v0", network="gcnn", steps=catch, tf_args=CATCH_TF + quick_args, pjr="catch"
    ),
  }, {
    "cartpole": dict(env="CartPole-v1", steps=cp, args=[]),
    "catch": dict(env="Catch-bsuite", steps=catch, args=CATCH_PUREJAXRL),
  }


def _busy_seconds():
  """CPU seconds all processes have used since boot (user+nice+system+irq+softirq+steal)."""
  with open("/proc/stat") as f:
    fields = [int(x) for x in f.readline().split()[1:]]
  return (sum(fields[:3]) + sum(fields[5:8])) / os.sysconf("SC_CLK_TCK")


def _timed(cmd, cwd):
  """Runs `cmd`; returns (stdout, wall s, its CPU s, other processes' CPU s, load before)."""
  load = os.getloadavg()[0]
  usage = resource.getrusage(resource.RUSAGE_CHILDREN)
  busy = _busy_seconds()
  start = time.perf_counter()
  proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
  wall = time.perf_counter() - start
  busy = _busy_seconds() - busy
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
  if proc.returncode != 0:
    raise RuntimeError(
      f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
      f"{proc.stderr[-4000:]}"
    )
  return proc.stdout, wall, cpu, max(busy - cpu, 0.0), load


TF_MODES = ("classic", "cold", "warm")


def _mode_args(mode, cache):
  """`launchers.train_ppo` flags of a compilation mode, and how the command line shows them."""
  if mode == "classic":
    return ["--noxla_runtime"], ["--noxla_runtime"]
  if mode == "cold":
    return [f"--xla_cache={cache}"], ["--xla_cache=<an empty folder>"]
  return [f"--xla_cache={cache}"], ["--xla_cache=<the warm cache>"]


def run_tf(case, out_dir, mode="warm", cache="", python=None):
  args = [
    f"--env={case['env']}",
    f"--network={case['network']}",
    f"--total_steps={case['steps']}",
    "--no_progress",
    *case["tf_args"],
  ]
  mode_args, shown = _mode_args(mode, cache)
  cmd = [
    python or sys.executable,
    "-m",
    "launchers.train_ppo",
    *args,
    *mode_args,
    f"--out={out_dir}",
  ]
  _, wall, cpu, others, load = _timed(cmd, REPO)
  with open(os.path.join(out_dir, "summary.json")) as f:
    summary = json.load(f)
  steps = summary["summary"][-1]["env_steps"]
  return dict(
    whole_s=wall,
    after_compile_s=steps / summary["steps_per_second"],
    first_call_s=summary["compile_seconds"],
    steps=steps,
    final_return=summary["summary"][-1]["mean"],
    cpu_s=cpu,
    others_cpu_s=others,
    load=load,
    command=" ".join(
      ["python -m launchers.train_ppo"] + args + shown + ["--out=<a temporary folder>"]
    ),
  )


def run_purejaxrl(pjr, folder, json_path):
  cmd = [
    "python3",
    os.path.join(folder, "run_cartpole.py"),
    f"--env={pjr['env']}",
    f"--steps={pjr['steps']}",
    f"--json={json_path}",
    *pjr["args"],
  ]
  _, wall, cpu, others, load = _timed(cmd, REPO)
  with open(json_path) as f:
    res = json.load(f)
  steps = int(res["num_updates"]) * 512  # NUM_ENVS 4 x NUM_STEPS 128
  second = res["second_run_s"]
  return dict(
    whole_s=wall - second,
    after_compile_s=second,
    steps=steps,
    final_return=res["final_mean_returned_episode_returns_run1"],
    cpu_s=cpu,
    others_cpu_s=others,
    load=load,
    versions=res["versions"],
    commit=res["purejaxrl_commit"],
    command=" ".join(
      ["python3", os.path.relpath(cmd[1], REPO)]
      + [a for a in cmd[2:] if not a.startswith("--json")]
    ),
  )


def _median(runs, key):
  return statistics.median(r[key] for r in runs)


def _machine():
  model = "unknown CPU"
  try:
    with open("/proc/cpuinfo") as f:
      model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    pass
  mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
  return f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()} {platform.release()}"


_VERSIONS = """
import importlib.metadata as m, platform, sys
def v(p):
  try:
    return m.version(p)
  except m.PackageNotFoundError:
    return None
print(f"Python {platform.python_version()} ({sys.prefix}), TensorFlow {v('tensorflow')}, "
      f"Keras {v('keras')}, tf-agents {v('tf-agents')}, NumPy {v('numpy')}, "
      + (f"pandas {v('pandas')} (imported by Keras)" if v('pandas') else "no pandas"))
"""


def _tf_versions(python: str) -> str:
  """The tf_equirl interpreter's Python, environment and package versions."""
  return subprocess.run(
    [python, "-c", _VERSIONS], capture_output=True, text=True, check=True
  ).stdout.strip()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  cases, pjr_cases = _cases(_QUICK.value)
  unknown = [c for c in _CASES.value if c not in cases]
  if unknown:
    raise app.UsageError(f"--cases: unknown {unknown}; known: {sorted(cases)}.")
  modes = _TF_MODES.value
  if not modes or any(m not in TF_MODES for m in modes):
    raise app.UsageError(f"--tf_modes: expected some of {TF_MODES}, received {modes}.")
  folder = os.path.abspath(_PUREJAXRL.value)
  if not os.path.exists(os.path.join(folder, "run_cartpole.py")):
    raise app.UsageError(f"--purejaxrl={folder} has no run_cartpole.py (the PureJaxRL reference).")
  subprocess.run(["bash", os.path.join(folder, "setup.sh")], check=True)
  python = os.path.abspath(_TF_PYTHON.value) if _TF_PYTHON.value else sys.executable
  if not os.access(python, os.X_OK):
    raise app.UsageError(f"--tf_python={_TF_PYTHON.value} is not an executable interpreter.")
  repeats = 1 if _QUICK.value else _REPEATS.value
  wanted_pjr = sorted({cases[c]["pjr"] for c in _CASES.value})
  start_uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
  started = time.time()
  tf_runs = {f"{c} [{m}]": [] for c in _CASES.value for m in modes}
  pjr_runs = {p: [] for p in wanted_pjr}
  with tempfile.TemporaryDirectory() as tmp:
    warm_cache = os.path.join(tmp, "warm_cache")
    if "warm" in modes:  # untimed runs that fill the cache
      for c in _CASES.value:
        run_tf(cases[c], os.path.join(tmp, f"{c}_warmup"), "warm", warm_cache, python)
    for r in range(repeats):
      # One round: every case of both programs, each PureJaxRL run beside its tf_equirl ones;
      # the order flips every round.
      order = []
      for p in wanted_pjr:
        tf_cases = [(c, m) for c in _CASES.value if cases[c]["pjr"] == p for m in modes]
        order += (
          [("pjr", p)] + [("tf", c) for c in tf_cases]
          if r % 2
          else [("tf", c) for c in tf_cases] + [("pjr", p)]
        )
      for kind, name in order:
        if kind == "tf":
          case, mode = name
          cache = warm_cache if mode == "warm" else os.path.join(tmp, f"cold_{case}_{r}")
          res = run_tf(cases[case], os.path.join(tmp, f"{case}_{mode}_{r}"), mode, cache, python)
          name = f"{case} [{mode}]"
          tf_runs[name].append(res)
        else:
          res = run_purejaxrl(pjr_cases[name], folder, os.path.join(tmp, f"pjr_{name}_{r}.json"))
          pjr_runs[name].append(res)
        if _JSON.value:  # kept after every run, so that an interrupted comparison is not lost
          with open(_JSON.value, "w") as f:
            json.dump({"tf_runs": tf_runs, "purejaxrl_runs": pjr_runs}, f, indent=1)
        print(
          f"round {r + 1}/{repeats} {kind:3s} {name:24s} whole {res['whole_s']:6.1f} s  "
          f"after compilation {res['after_compile_s']:6.2f} s ({res['steps']:,} steps)  "
          f"return {res['final_return']:.3g}  load {res['load']:.2f}  "
          f"others' CPU {res['others_cpu_s']:.1f} s",
          flush=True,
        )
  end_uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
  minutes = (time.time() - started) / 60

  rows = []
  for c in tf_runs:
    tf_r, pjr_r = tf_runs[c], pjr_runs[cases[c.split(" ")[0]]["pjr"]]
    steps_tf, steps_pjr = tf_r[0]["steps"], pjr_r[0]["steps"]
    # After compilation, per the same number of steps (PureJaxRL's run).
    tf_after = _median(tf_r, "after_compile_s") * steps_pjr / steps_tf
    rows.append(
      dict(
        case=c,
        tf_whole=_median(tf_r, "whole_s"),
        pjr_whole=_median(pjr_r, "whole_s"),
        tf_after=tf_after,
        pjr_after=_median(pjr_r, "after_compile_s"),
        tf_first=_median(tf_r, "first_call_s"),
        steps=steps_pjr,
        tf_return=_median(tf_r, "final_return"),
        pjr_return=_median(pjr_r, "final_return"),
      )
    )
  table = [
    "| case | whole process: tf_equirl s | PureJaxRL s | **ratio** | after compilation: "
    "tf_equirl s | PureJaxRL s | **ratio** | tf_equirl first call s | final return tf_equirl / "
    "PureJaxRL |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|",
  ]
  for w in rows:
    table.append(
      f"| {w['case']} ({w['steps']:,} steps) | {w['tf_whole']:.1f} | {w['pjr_whole']:.1f} | "
      f"**{w['tf_whole'] / w['pjr_whole']:.2f}x** | {w['tf_after']:.2f} | {w['pjr_after']:.2f} | "
      f"**{w['tf_after'] / w['pjr_after']:.2f}x** | {w['tf_first']:.1f} | "
      f"{w['tf_return']:.3g} / {w['pjr_return']:.3g} |"
    )
  print("\n" + "\n".join(table))

  loads = [x["load"] for runs in list(tf_runs.values()) + list(pjr_runs.values()) for x in runs]
  others = [
    x["others_cpu_s"] / x["whole_s"] / os.cpu_count()
    for runs in list(tf_runs.values()) + list(pjr_runs.values())
    for x in runs
  ]
  pjr_any = next(iter(pjr_runs.values()))[0]
  raw = [
    "| round | program | case | whole s | after compilation s | steps | CPU s | others' CPU s | "
    "load (1 min) before |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|",
  ]
  for r in range(repeats):
    for c, runs in tf_runs.items():
      x = runs[r]
      raw.append(
        f"| {r + 1} | tf_equirl | {c} | {x['whole_s']:.1f} | {x['after_compile_s']:.2f} | "
        f"{x['steps']:,} | {x['cpu_s']:.1f} | {x['others_cpu_s']:.1f} | {x['load']:.2f} |"
      )
    for p, runs in pjr_runs.items():
      x = runs[r]
      raw.append(
        f"| {r + 1} | PureJaxRL | {p} | {x['whole_s']:.1f} | {x['after_compile_s']:.2f} | "
        f"{x['steps']:,} | {x['cpu_s']:.1f} | {x['others_cpu_s']:.1f} | {x['load']:.2f} |"
      )
  command = "python benchmarks/vs_purejaxrl.py" + "".join(f" {a}" for a in sys.argv[1:])
  commands = sorted(
    {x["command"] for runs in list(tf_runs.values()) + list(pjr_runs.values()) for x in runs}
  )
  text = "\n".join(
    [
      "# PPO throughput: tf_equirl against PureJaxRL, side by side",
      "",
      f"    {command}",
      "",
      f"{repeats} alternating round(s), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
      f"{minutes:.0f} minutes. Medians over the rounds; ratios are tf_equirl / PureJaxRL (below 1: "
      "tf_equirl is faster). \"After compilation\" is scaled to PureJaxRL's number of steps. "
      "How each figure is taken: the docstring of `benchmarks/vs_purejaxrl.py`.",
      "",
      *table,
      "",
      f"- Machine: {_machine()}; no GPU.",
      f"- tf_equirl: {_tf_versions(python)}.",
      f"- PureJaxRL {pjr_any['commit']}: "
      + " ".join(f"{k}={v}" for k, v in pjr_any["versions"].items())
      + ".",
      f"- Load: `uptime` before: {start_uptime}; after: {end_uptime}. 1-minute load before each run "
      f"{min(loads):.2f}-{max(loads):.2f}; other processes used {100 * min(others):.0f}-"
      f"{100 * max(others):.0f} % of the {os.cpu_count()} cores during a run "
      f"(median {100 * statistics.median(others):.0f} %)"
      + (
        ". **The machine was busy: the figures are noisy.**"
        if statistics.median(others) > 0.1
        else "."
      ),
      "",
      "Every run (each a fresh process; CPU s is the process' own user+system time, for "
      "PureJaxRL including its second run):",
      "",
      *raw,
      "",
      "Commands run (timed from outside the process):",
      "",
      *[f"    {c}" for c in commands],
      "",
    ]
  )
  if _OUT.value:
    notes = kept_notes(_OUT.value)
    with open(_OUT.value, "w") as f:
      f.write(text + notes)
    print(f"wrote {_OUT.value}")
  if _JSON.value:
    with open(_JSON.value, "w") as f:
      json.dump({"rows": rows, "tf_runs": tf_runs, "purejaxrl_runs": pjr_runs}, f, indent=1)


if __name__ == "__main__":
  app.run(main)
