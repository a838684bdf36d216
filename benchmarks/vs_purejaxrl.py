"""tf_equirl's PPO against PureJaxRL's, side by side: whole-process time and time after compilation.

  python benchmarks/vs_purejaxrl.py                 # 3 alternating rounds, writes results/ppo_throughput/vs_purejaxrl.md
  python benchmarks/vs_purejaxrl.py --repeats=5 --cases=cartpole_mlp
  python benchmarks/vs_purejaxrl.py --quick --out=  # tiny sizes, no results file (smoke test)
  python benchmarks/vs_purejaxrl.py --seed_counts=1,8,32,128 --seed_networks=mlp,gcnn
  python benchmarks/vs_purejaxrl.py --quick --seed_counts=1,2 --seeds_out= --seed_plot=

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

Many seeds (`--seed_counts`, e.g. 1,8,32,128): N CartPole seeds trained by each side in one
process, `python -m launchers.train_ppo --env=CartPole-v1 --network=<net> --seeds=N
--total_steps=<steps> --no_progress --no_tensorboard` on its defaults (XLA's newer CPU runtime
from a warm compilation cache, filled by one untimed one-seed run before the rounds; its N
seeds train as lone programs, one per CPU core at once, `tf_equirl.runner.lone_programs`) or,
for a `--seed_networks` entry NET/vectorised, with `--noxla_runtime` (its N seeds as one
vectorised XLA program: even groups of at most 4 seeds, one group per CPU core at once, with
the classic runtime, which TensorFlow 2.15 cannot cache, so the whole time includes compiling)
against `run_cartpole.py --once --num_seeds=N --steps=<steps>` (PureJaxRL's
`jax.jit(jax.vmap(make_train(config)))`), both at `--seed_steps` steps per seed (default
PureJaxRL's 500,000) and PureJaxRL's CartPole settings on its side, tf_equirl's defaults on its
own, as above. Each round runs every seed count of both programs (the order flips every
round). Each table, one per `--seed_networks` network, gives per N the whole-process seconds
(medians), their ratio, seconds per seed, each process' peak resident memory and the final mean
return over the seeds; a figure plots seconds per seed against N. With `--seed_counts` and no
`--cases` on the command line only the seeds comparison runs; with both, both run. Its tables
go into their own file, `--seeds_out` (results/ppo_throughput/seeds.md), the figure into
`--seed_plot` (results/ppo_throughput/seeds.png); `--tf_modes` does not apply to it.

Every run is a child of a small Python process that times it and, once it has exited, reads
its peak resident set size (`getrusage(RUSAGE_CHILDREN).ru_maxrss` of that process, whose only
child it is). Every run records the 1-minute load average before it and the CPU time other
processes used while it ran (from /proc/stat): a busy machine shows there, and its figures
are noisy. A run that takes longer than `--run_timeout` seconds is killed, with its children;
a tf_equirl run killed so stops the comparison with an error, a PureJaxRL run of the many-seed
comparison is started again up to `--purejaxrl_tries` tries in all (its vmapped program
sometimes stops making progress), then recorded as not finished (its figures "-"), and the comparison goes
on.
"""

import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tf_equirl import provenance  # noqa: E402  (light: no TensorFlow import)
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
  os.path.join(REPO, "results", "ppo_throughput", "vs_purejaxrl.md"),
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

_SEED_COUNTS = flags.DEFINE_list(
  "seed_counts",
  [],
  "Many-seed comparison: numbers of seeds N trained in one process by each "
  "side (e.g. 1,8,32,128); empty: none. Given without --cases, only this comparison runs.",
)
_SEED_NETWORKS = flags.DEFINE_list(
  "seed_networks",
  ["mlp"],
  "Many-seed comparison: tf_equirl networks (mlp, gcnn) on the launcher's defaults; "
  "NET/vectorised: the same network as one vectorised program (--noxla_runtime).",
)
_SEED_STEPS = flags.DEFINE_integer(
  "seed_steps",
  500_000,
  "Many-seed comparison: CartPole steps per seed (--quick: 4,096 " "unless given).",
)
_SEEDS_OUT = flags.DEFINE_string(
  "seeds_out",
  os.path.join(REPO, "results", "ppo_throughput", "seeds.md"),
  "Markdown file of the many-seed comparison ('' for none); a '## Notes' section survives.",
)
_SEED_PLOT = flags.DEFINE_string(
  "seed_plot",
  os.path.join(REPO, "results", "ppo_throughput", "seeds.png"),
  "Figure of the many-seed comparison, seconds per seed against seeds ('' for none).",
)
_RUN_TIMEOUT = flags.DEFINE_integer(
  "run_timeout",
  7200,
  "Seconds one run may take; a run past it is killed. A tf_equirl run killed so stops "
  "the comparison with an error; a PureJaxRL run of the many-seed comparison is recorded "
  "as not finished and the comparison goes on.",
)

_PUREJAXRL_TRIES = flags.DEFINE_integer(
  "purejaxrl_tries",
  2,
  "Tries of a PureJaxRL many-seed run killed at --run_timeout before it is recorded as not "
  "finished (its vmapped program sometimes stops making progress on a 2-core CPU: a futex "
  "wait at 0 % CPU).",
)

CARTPOLE_STEPS, CATCH_STEPS = 500_000, 20_000
SEED_NETWORKS = ("mlp", "gcnn", "mlp/vectorised", "gcnn/vectorised")
QUICK_SEED_STEPS = 4096
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


# Runs argv[2:] as its only child; writes the child's wall time, CPU time and peak resident set
# size to argv[1]. RUSAGE_CHILDREN of this benchmark would be a maximum over all its runs.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
  json.dump({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
             "peak_rss_kib": usage.ru_maxrss}, f)
sys.exit(code)
"""


class RunTimedOut(RuntimeError):
  """A measured process ran past `--run_timeout` and was killed."""

  def __init__(self, message, timeout, load):
    super().__init__(message)
    self.timeout = timeout
    self.load = load


def _unfinished(error: RunTimedOut, command: str):
  """The record of a run killed at the timeout: its figures are NaN ("did not finish")."""
  nan = float("nan")
  return dict(
    whole_s=nan,
    after_compile_s=nan,
    steps=0,
    final_return=nan,
    cpu_s=nan,
    others_cpu_s=nan,
    load=error.load,
    peak_rss_mib=nan,
    timed_out=error.timeout,
    command=command,
  )


def _timed(cmd, cwd, timeout=None):
  """Runs `cmd` under the measuring process `_MEASURE`.

  Returns:
    (stdout, wall s, its CPU s, other processes' CPU s, load before, peak RSS MiB).

  Raises:
    RuntimeError: `cmd` failed, or ran past `timeout` seconds (then it is killed with its
      children).
  """
  load = os.getloadavg()[0]
  busy = _busy_seconds()
  with tempfile.TemporaryDirectory() as tmp:
    measured = os.path.join(tmp, "measured.json")
    proc = subprocess.Popen(
      [sys.executable, "-c", _MEASURE, measured, *cmd],
      cwd=cwd,
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
      start_new_session=True,
    )  # its own group, to kill it whole
    try:
      stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
      os.killpg(proc.pid, signal.SIGKILL)
      stdout, stderr = proc.communicate()
      raise RunTimedOut(
        f"{' '.join(cmd)} did not finish in {timeout} s (--run_timeout); "
        f"killed.\n{stdout[-2000:]}\n{stderr[-2000:]}",
        timeout,
        load,
      ) from None
    busy = _busy_seconds() - busy
    if proc.returncode != 0:
      raise RuntimeError(
        f"{' '.join(cmd)} failed ({proc.returncode}):\n{stdout[-2000:]}\n" f"{stderr[-4000:]}"
      )
    with open(measured) as f:
      m = json.load(f)
  return (
    stdout,
    m["wall_s"],
    m["cpu_s"],
    max(busy - m["cpu_s"], 0.0),
    load,
    m["peak_rss_kib"] / 1024,
  )


TF_MODES = ("classic", "cold", "warm")


def _mode_args(mode, cache):
  """`launchers.train_ppo` flags of a compilation mode, and how the command line shows them."""
  if mode == "classic":
    return ["--noxla_runtime"], ["--noxla_runtime"]
  if mode == "cold":
    return [f"--xla_cache={cache}"], ["--xla_cache=<an empty folder>"]
  return [f"--xla_cache={cache}"], ["--xla_cache=<the warm cache>"]


def run_tf(case, out_dir, mode="warm", cache="", python=None, timeout=None):
  """One `launchers.train_ppo` process; `steps` is per seed, "after compilation" all seeds'."""
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
  _, wall, cpu, others, load, rss = _timed(cmd, REPO, timeout)
  with open(os.path.join(out_dir, "summary.json")) as f:
    summary = json.load(f)
  steps = summary["summary"][-1]["env_steps"]
  # steps_per_second counts every seed's steps after compilation.
  after = steps * len(summary["seeds"]) / summary["steps_per_second"]
  return dict(
    whole_s=wall,
    after_compile_s=after,
    first_call_s=summary["compile_seconds"],
    steps=steps,
    final_return=summary["summary"][-1]["mean"],
    cpu_s=cpu,
    others_cpu_s=others,
    load=load,
    peak_rss_mib=rss,
    command=" ".join(
      ["python -m launchers.train_ppo"] + args + shown + ["--out=<a temporary folder>"]
    ),
  )


def run_purejaxrl(pjr, folder, json_path, timeout=None):
  """One `run_cartpole.py` process; `steps` is per seed."""
  cmd = [
    "python3",
    os.path.join(folder, "run_cartpole.py"),
    f"--env={pjr['env']}",
    f"--steps={pjr['steps']}",
    f"--json={json_path}",
    *pjr["args"],
  ]
  _, wall, cpu, others, load, rss = _timed(cmd, REPO, timeout)
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
    peak_rss_mib=rss,
    versions=res["versions"],
    commit=res["purejaxrl_commit"],
    command=" ".join(
      ["python3", os.path.relpath(cmd[1], REPO)]
      + [a for a in cmd[2:] if not a.startswith("--json")]
    ),
  )


def _purejaxrl_tries(pjr, folder, json_path, timeout):
  """`run_purejaxrl`, tried up to `--purejaxrl_tries` times while it runs past `timeout`; the
  result records the killed tries (`killed_tries`)."""
  tries = _PUREJAXRL_TRIES.value
  for attempt in range(tries):
    try:
      res = run_purejaxrl(pjr, folder, json_path, timeout)
    except RunTimedOut as error:
      print(f"PureJaxRL {' '.join(pjr['args'])}: killed after {timeout} s", flush=True)
      if attempt + 1 == tries:  # recorded as not finished; the comparison goes on
        shown = [os.path.relpath(os.path.join(folder, "run_cartpole.py"), REPO)]
        shown += [f"--env={pjr['env']}", f"--steps={pjr['steps']}", *pjr["args"]]
        res = _unfinished(error, " ".join(["python3", *shown]))
        res["killed_tries"] = tries
        return res
      continue
    res["killed_tries"] = attempt
    return res
  raise AssertionError("unreachable")


def _median(runs, key):
  """The median over the rounds; NaN where a run did not finish (killed at --run_timeout)."""
  values = [r[key] for r in runs]
  if any(math.isnan(v) for v in values):
    return float("nan")
  return statistics.median(values)


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


def _uptime() -> str:
  return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _environment(python, pjr_any, start_uptime, end_uptime, runs):
  """Markdown bullets: the machine, both programs' versions, and the load during `runs`."""
  loads = [x["load"] for x in runs]
  others = [x["others_cpu_s"] / x["whole_s"] / os.cpu_count() for x in runs if "timed_out" not in x]
  return [
    f"- Machine: {_machine()}; no GPU.",
    f"- tf_equirl: {_tf_versions(python)}.",
    f"- PureJaxRL {pjr_any['commit']}: "
    + " ".join(f"{k}={v}" for k, v in pjr_any["versions"].items())
    + ".",
    f"- Load: `uptime` before: {start_uptime}; after: {end_uptime}. 1-minute load before each "
    f"run {min(loads):.2f}-{max(loads):.2f}; other processes used {100 * min(others):.0f}-"
    f"{100 * max(others):.0f} % of the {os.cpu_count()} cores during a run "
    f"(median {100 * statistics.median(others):.0f} %)"
    + (
      ". **The machine was busy: the figures are noisy.**"
      if statistics.median(others) > 0.1
      else "."
    ),
  ]


def _write_results(path, text):
  """Writes `text` to `path`, keeping the file's hand-written notes."""
  notes = kept_notes(path)
  with open(path, "w") as f:
    f.write(text + notes)
  print(f"wrote {path}")


def _command() -> str:
  return "python benchmarks/vs_purejaxrl.py" + "".join(f" {a}" for a in sys.argv[1:])


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
  try:
    seed_counts = [int(n) for n in _SEED_COUNTS.value]
  except ValueError:
    seed_counts = [0]
  if any(n < 1 for n in seed_counts):
    raise app.UsageError(
      f"--seed_counts: expected positive integers, received " f"{','.join(_SEED_COUNTS.value)}."
    )
  networks = _SEED_NETWORKS.value
  if seed_counts and (not networks or any(n not in SEED_NETWORKS for n in networks)):
    raise app.UsageError(
      f"--seed_networks: expected some of {SEED_NETWORKS}, received " f"{networks}."
    )
  seed_steps = (
    QUICK_SEED_STEPS
    if _QUICK.value and not flags.FLAGS["seed_steps"].present
    else _SEED_STEPS.value
  )
  if seed_steps < 512:
    raise app.UsageError(
      f"--seed_steps: expected at least 512 (one PPO iteration of 4 envs x "
      f"128 steps), received {seed_steps}."
    )
  if _RUN_TIMEOUT.value < 1:
    raise app.UsageError(
      f"--run_timeout: expected a positive number of seconds, received " f"{_RUN_TIMEOUT.value}."
    )
  if _PUREJAXRL_TRIES.value < 1:
    raise app.UsageError(
      f"--purejaxrl_tries: expected 1 or more tries, received {_PUREJAXRL_TRIES.value}."
    )
  folder = os.path.abspath(_PUREJAXRL.value)
  if not os.path.exists(os.path.join(folder, "run_cartpole.py")):
    sys.exit(
      f"--purejaxrl={folder} has no run_cartpole.py (the PureJaxRL reference): "
      "nothing to compare with."
    )
  setup = subprocess.run(["bash", os.path.join(folder, "setup.sh")])
  if setup.returncode != 0:
    sys.exit(
      f"PureJaxRL could not be set up: {folder}/setup.sh exited with {setup.returncode} "
      "(its first run installs PureJaxRL's pinned packages from PyPI, which needs network "
      "access); nothing to compare with."
    )
  python = os.path.abspath(_TF_PYTHON.value) if _TF_PYTHON.value else sys.executable
  if not os.access(python, os.X_OK):
    raise app.UsageError(f"--tf_python={_TF_PYTHON.value} is not an executable interpreter.")
  repeats = 1 if _QUICK.value else _REPEATS.value
  record = {}
  if not seed_counts or flags.FLAGS["cases"].present:
    _compare_cases(cases, pjr_cases, modes, folder, python, repeats, record)
  if seed_counts:
    _compare_seeds(seed_counts, networks, seed_steps, folder, python, repeats, record)


def _save_json(record):
  """Keeps every run's figures in --json (after every run: an interrupted comparison is kept)."""
  if _JSON.value:
    with open(_JSON.value, "w") as f:
      json.dump(record, f, indent=1)


def _compare_cases(cases, pjr_cases, modes, folder, python, repeats, record):
  """The per-case comparison (single seeds, every --tf_modes mode); writes --out."""
  wanted_pjr = sorted({cases[c]["pjr"] for c in _CASES.value})
  start_uptime = _uptime()
  started = time.time()
  tf_runs = {f"{c} [{m}]": [] for c in _CASES.value for m in modes}
  pjr_runs = {p: [] for p in wanted_pjr}
  record.update(tf_runs=tf_runs, purejaxrl_runs=pjr_runs)
  timeout = _RUN_TIMEOUT.value
  with tempfile.TemporaryDirectory() as tmp:
    warm_cache = os.path.join(tmp, "warm_cache")
    if "warm" in modes:  # untimed runs that fill the cache
      for c in _CASES.value:
        run_tf(cases[c], os.path.join(tmp, f"{c}_warmup"), "warm", warm_cache, python, timeout)
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
          res = run_tf(
            cases[case], os.path.join(tmp, f"{case}_{mode}_{r}"), mode, cache, python, timeout
          )
          name = f"{case} [{mode}]"
          tf_runs[name].append(res)
        else:
          res = run_purejaxrl(
            pjr_cases[name], folder, os.path.join(tmp, f"pjr_{name}_{r}.json"), timeout
          )
          pjr_runs[name].append(res)
        _save_json(record)
        print(
          f"round {r + 1}/{repeats} {kind:3s} {name:24s} whole {res['whole_s']:6.1f} s  "
          f"after compilation {res['after_compile_s']:6.2f} s ({res['steps']:,} steps)  "
          f"return {res['final_return']:.3g}  load {res['load']:.2f}  "
          f"others' CPU {res['others_cpu_s']:.1f} s",
          flush=True,
        )
  end_uptime = _uptime()
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
  command = _command()
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
      *_environment(
        python,
        pjr_any,
        start_uptime,
        end_uptime,
        [x for runs in list(tf_runs.values()) + list(pjr_runs.values()) for x in runs],
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
    record_of_run = provenance.collect(_command(), seeds=(0,), wall_seconds=time.time() - started)
    _write_results(_OUT.value, provenance.header(record_of_run) + "\n" + text)
  record["rows"] = rows
  _save_json(record)


def _seed_case(label, seeds, steps):
  """`run_tf`'s case of N CartPole seeds of a `--seed_networks` entry (TensorBoard off, as
  the brief runs)."""
  return dict(
    env="CartPole-v1",
    network=label.split("/")[0],
    steps=steps,
    tf_args=[f"--seeds={seeds}", "--no_tensorboard"],
  )


def _seed_mode(label):
  """The compilation mode of a `--seed_networks` entry: the launcher's default, XLA's newer
  runtime from the warm cache (several seeds then train as lone programs, one per CPU core,
  every one from the cache); NET/vectorised: the classic runtime, under which several seeds
  train as one vectorised program and which TensorFlow 2.15 cannot cache (compilation is in
  the whole time)."""
  return "classic" if label.endswith("/vectorised") else "warm"


def _compare_seeds(seed_counts, networks, steps, folder, python, repeats, record):
  """The many-seed comparison: writes --seeds_out and --seed_plot."""
  timeout = _RUN_TIMEOUT.value
  tf_runs = {f"{net} x{n}": [] for net in networks for n in seed_counts}
  pjr_runs = {f"x{n}": [] for n in seed_counts}
  record.update(seed_tf_runs=tf_runs, seed_purejaxrl_runs=pjr_runs)
  start_uptime = _uptime()
  started = time.time()
  with tempfile.TemporaryDirectory() as tmp:
    cache = os.path.join(tmp, "warm_cache")
    # Untimed runs of one seed that fill the compilation cache: a lone program of one seed
    # is what every seed count runs on the launcher's defaults.
    for net in sorted({n for n in networks if _seed_mode(n) == "warm"}):
      print(f"warm-up: tf_equirl {net} x1", flush=True)
      run_tf(
        _seed_case(net, 1, steps),
        os.path.join(tmp, f"{net.replace('/', '_')}_warmup"),
        "warm",
        cache,
        python,
        timeout,
      )
    for r in range(repeats):
      for n in seed_counts:
        order = [("tf", net) for net in networks] + [("pjr", None)]
        for kind, net in order[::-1] if r % 2 else order:
          if kind == "tf":
            name = f"{net} x{n}"
            res = run_tf(
              _seed_case(net, n, steps),
              os.path.join(tmp, f"{net.replace('/', '_')}_{n}_{r}"),
              _seed_mode(net) if n > 1 else "warm",
              cache,
              python,
              timeout,
            )
            tf_runs[name].append(res)
          else:
            name = f"x{n}"
            pjr = dict(env="CartPole-v1", steps=steps, args=["--once", f"--num_seeds={n}"])
            res = _purejaxrl_tries(pjr, folder, os.path.join(tmp, f"pjr_{n}_{r}.json"), timeout)
            pjr_runs[name].append(res)
          _save_json(record)
          print(
            f"round {r + 1}/{repeats} {kind:3s} {name:10s} whole {res['whole_s']:7.1f} s  "
            f"{res['whole_s'] / n:7.2f} s/seed  peak RSS {res['peak_rss_mib']:,.0f} MiB  "
            f"return {res['final_return']:.3g}  load {res['load']:.2f}  "
            f"others' CPU {res['others_cpu_s']:.1f} s",
            flush=True,
          )
  end_uptime = _uptime()
  minutes = (time.time() - started) / 60

  rows = {net: [] for net in networks}
  for net in networks:
    for n in seed_counts:
      tf_r, pjr_r = tf_runs[f"{net} x{n}"], pjr_runs[f"x{n}"]
      rows[net].append(
        dict(
          seeds=n,
          tf_s=_median(tf_r, "whole_s"),
          pjr_s=_median(pjr_r, "whole_s"),
          tf_rss=_median(tf_r, "peak_rss_mib"),
          pjr_rss=_median(pjr_r, "peak_rss_mib"),
          tf_return=_median(tf_r, "final_return"),
          pjr_return=_median(pjr_r, "final_return"),
        )
      )
  tables = []
  for net in networks:
    tables += [
      f"### {net}",
      "",
      "| seeds | tf_equirl s | PureJaxRL s | **ratio** | tf_equirl s/seed | "
      "PureJaxRL s/seed | tf_equirl peak RSS MiB | PureJaxRL peak RSS MiB | "
      "final return tf_equirl / PureJaxRL |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for w in rows[net]:
      n = w["seeds"]
      if math.isnan(w["pjr_s"]):  # PureJaxRL killed at --run_timeout
        tables.append(
          f"| {n} | {w['tf_s']:.1f} | did not finish in {timeout:,} s | - | "
          f"{w['tf_s'] / n:.2f} | - | {w['tf_rss']:,.0f} | - | {w['tf_return']:.3g} / - |"
        )
        continue
      tables.append(
        f"| {n} | {w['tf_s']:.1f} | {w['pjr_s']:.1f} | "
        f"**{w['tf_s'] / w['pjr_s']:.2f}x** | {w['tf_s'] / n:.2f} | "
        f"{w['pjr_s'] / n:.2f} | {w['tf_rss']:,.0f} | {w['pjr_rss']:,.0f} | "
        f"{w['tf_return']:.3g} / {w['pjr_return']:.3g} |"
      )
    tables.append("")
  print("\n" + "\n".join(tables))

  plot = os.path.abspath(_SEED_PLOT.value) if _SEED_PLOT.value else None
  if plot:
    _plot_seeds(plot, rows, steps)
  all_runs = [x for runs in list(tf_runs.values()) + list(pjr_runs.values()) for x in runs]
  raw = [
    "| round | program | network | seeds | whole s | s/seed | peak RSS MiB | CPU s | "
    "others' CPU s | load (1 min) before | final return |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ]
  for r in range(repeats):
    for n in seed_counts:
      for program, net, x in [("tf_equirl", net, tf_runs[f"{net} x{n}"][r]) for net in networks] + [
        ("PureJaxRL", "its MLP", pjr_runs[f"x{n}"][r])
      ]:
        if "timed_out" in x:
          raw.append(
            f"| {r + 1} | {program} | {net} | {n} | killed after {x['timed_out']:,} s, "
            f"{x['killed_tries']} {'try' if x['killed_tries'] == 1 else 'tries'} | - | - | - | - | "
            f"{x['load']:.2f} | - |"
          )
          continue
        if x.get("killed_tries"):
          net = f"{net} (after {x['killed_tries']} killed at the timeout)"
        raw.append(
          f"| {r + 1} | {program} | {net} | {n} | {x['whole_s']:.1f} | "
          f"{x['whole_s'] / n:.2f} | {x['peak_rss_mib']:,.0f} | {x['cpu_s']:.1f} | "
          f"{x['others_cpu_s']:.1f} | {x['load']:.2f} | {x['final_return']:.3g} |"
        )
  commands = sorted({x["command"] for x in all_runs})
  out = os.path.abspath(_SEEDS_OUT.value) if _SEEDS_OUT.value else None
  figure = (
    [f"![seconds per seed against seeds]" f"({os.path.relpath(plot, os.path.dirname(out))})", ""]
    if plot and out
    else []
  )
  text = "\n".join(
    [
      "# PPO with many seeds: tf_equirl against PureJaxRL, side by side",
      "",
      f"    {_command()}",
      "",
      f"CartPole-v1, {steps:,} steps per seed; N seeds trained in one process by each side "
      "(tf_equirl: `--seeds=N` on the launcher's defaults, XLA's newer runtime from a warm "
      "compilation cache, the seeds as lone programs, one per CPU core at once; NET/vectorised: "
      "`--noxla_runtime`, the seeds as one vectorised program in even groups of at most 4, one "
      "group per CPU core at once, compiled in every run; PureJaxRL: "
      f"`--num_seeds N`, `jax.vmap`). {repeats} alternating round(s), "
      f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, {minutes:.0f} minutes. "
      "Whole processes timed from outside; medians over the rounds; ratios are tf_equirl / "
      "PureJaxRL (below 1: tf_equirl is faster); peak RSS is the process' peak resident memory "
      "(median over the rounds); the final return is the mean over the seeds at the end of "
      "training (tf_equirl's last checkpoint, PureJaxRL's last iteration). How each figure is "
      "taken: the docstring of `benchmarks/vs_purejaxrl.py`.",
      "",
      *_environment(python, pjr_runs[f"x{seed_counts[0]}"][0], start_uptime, end_uptime, all_runs),
      "",
      "Commands run (timed from outside the process):",
      "",
      *[f"    {c}" for c in commands],
      "",
      *tables,
      *figure,
      "Every run (each a fresh process; CPU s is the process' own user+system time):",
      "",
      *raw,
      "",
    ]
  )
  if out:
    record_of_run = provenance.collect(
      _command(), seeds=range(max(seed_counts)), wall_seconds=time.time() - started
    )
    _write_results(out, provenance.header(record_of_run) + "\n" + text)
  record["seed_rows"] = rows
  _save_json(record)


def _plot_seeds(path, rows, steps):
  """Seconds per seed against seeds (log-log): one line per tf_equirl network, one for
  PureJaxRL."""
  import matplotlib  # here: only this comparison needs it

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from matplotlib import ticker

  fig, ax = plt.subplots(figsize=(6, 4))
  for net, net_rows in rows.items():
    ax.plot(
      [w["seeds"] for w in net_rows],
      [w["tf_s"] / w["seeds"] for w in net_rows],
      "o-",
      label=f"tf_equirl {net}",
    )
  any_rows = next(iter(rows.values()))
  finished = [w for w in any_rows if not math.isnan(w["pjr_s"])]  # not killed at the timeout
  ax.plot(
    [w["seeds"] for w in finished],
    [w["pjr_s"] / w["seeds"] for w in finished],
    "s--",
    color="black",
    label="PureJaxRL (its MLP)",
  )
  ax.set_xscale("log", base=2)
  ax.set_yscale("log")
  counts = [w["seeds"] for w in any_rows]
  ax.xaxis.set_major_locator(ticker.FixedLocator(counts))
  ax.xaxis.set_minor_locator(ticker.NullLocator())
  ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
  ax.yaxis.set_minor_locator(ticker.LogLocator(base=10, subs=(2, 5)))
  for axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
    axis(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
  ax.set_xlabel("seeds trained together")
  ax.set_ylabel("whole process seconds per seed")
  ax.set_title(f"PPO on CartPole-v1, {steps:,} steps per seed")
  ax.grid(True, which="both", alpha=0.3)
  ax.legend()
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path, dpi=120)
  plt.close(fig)
  print(f"wrote {path}")


if __name__ == "__main__":
  app.run(main)
