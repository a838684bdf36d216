"""XLA's two CPU runtimes (`tf_equirl.compilation`) on the PPO tables: does the newer runtime
run where it is asked for, and do the statistics over seeds stay those of the classic one?

Entry point: `run(RuntimeStudyConfig()) -> str`, the report's path (the registry's
`xla_runtime`). For every environment it trains the same networks and seeds twice, each
runtime in a process of its own (`python -m launchers.reproduce_ppo`, `--xla_runtime` for
the newer one: XLA reads the runtime flag once per process), then reads both runs folders
and writes:

- what each run's `run.json` records as the runtime that trained it, and how many seeds'
  per-iteration columns differ between the runtimes (the two round differently, so a seed
  whose columns are equal to the last digit under both means that the newer runtime did
  not run);
- the table of both runtimes at the thesis' checkpoints and, per environment, the newer
  runtime minus the classic one, paired over the seeds (`tf_equirl.stats.compare`, Holm's
  correction within the environment).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import checks, envs, results
from tf_equirl.experiments._compare import at_step, checkpoint_label, comparisons_section
from tf_equirl.experiments.ppo_tables import parse_network
from tf_equirl.runner import arm_folder, default_checkpoints

__all__ = ["RUNTIMES", "RuntimeStudyConfig", "run", "write_report", "runtime_flags"]

RUNTIMES = ("classic", "xla_runtime")
"""The runtimes compared: the classic one (TensorFlow's default) and the newer MLIR-based one."""

_COLUMNS = ("mean_return", "policy_loss", "value_loss", "entropy", "grad_norm")


@dataclasses.dataclass
class RuntimeStudyConfig:
  """What `run` trains and where it writes.

  Attributes:
    envs: the environments (each trains `networks` for `seeds` seeds under both runtimes).
    networks: network specs of `tf_equirl.experiments.ppo_tables.parse_network`.
    seeds: seeds per network, 0..N-1 (the same under both runtimes, so they pair).
    total_steps: environment steps per seed (None: the thesis').
    checkpoints: environment steps of the table's rows per environment (None: the thesis').
    runs: folder of the runs (`<runs>/<runtime>/<env>/<network>`).
    report: the report's path.
    command: the command written into the report.
  """

  envs: Tuple[str, ...] = ("CartPole-v1", "Catch-v0")
  networks: Tuple[str, ...] = ("mlp", "gcnn")
  seeds: int = 32
  total_steps: Optional[int] = None
  checkpoints: Optional[Tuple[int, ...]] = None
  runs: str = os.path.join("runs", "xla_runtime")
  report: str = os.path.join("results", "xla_runtime", "README.md")
  command: str = "python -m launchers.reproduce_all --only=xla_runtime"

  def __post_init__(self):
    self.envs, self.networks = tuple(self.envs), tuple(self.networks)
    for name in ("envs", "networks"):
      if not getattr(self, name):
        raise ValueError(
          f"RuntimeStudyConfig.{name} must name at least one, received {getattr(self, name)!r}."
        )
    for env in self.envs:
      if env not in envs.list_envs():
        raise ValueError(
          f"RuntimeStudyConfig.envs: {env!r} is not a registered environment "
          f"({envs.list_envs()})."
        )
    for spec in self.networks:
      parse_network(spec)
    checks.positive_int("RuntimeStudyConfig", "total_steps", self.total_steps, allow_none=True)
    if not isinstance(self.seeds, int) or self.seeds < 2:
      raise ValueError(
        f"RuntimeStudyConfig.seeds must be an int of at least 2 (the runtimes are compared "
        f"paired over seeds), received {self.seeds!r}."
      )


def runtime_flags(config: RuntimeStudyConfig, env: str, runtime: str) -> List[str]:
  """The `launchers.reproduce_ppo` flags that train `env`'s networks under `runtime`."""
  if runtime not in RUNTIMES:
    raise ValueError(f"runtime must be one of {RUNTIMES}, received {runtime!r}.")
  root = os.path.abspath(os.path.join(config.runs, runtime))
  out = [
    f"--env={env}",
    f"--seeds={config.seeds}",
    f"--networks={','.join(config.networks)}",
    f"--runs={root}",
    f"--report={os.path.join(root, env, 'README.md')}",
    "--no_progress",
    "--xla_runtime" if runtime == "xla_runtime" else "--noxla_runtime",
  ]
  if config.total_steps is not None:
    out.append(f"--total_steps={config.total_steps}")
  if config.checkpoints is not None:
    out.append(f"--checkpoints={','.join(str(c) for c in config.checkpoints)}")
  return out


def _folder(config: RuntimeStudyConfig, runtime: str, env: str, spec: str) -> str:
  return arm_folder(os.path.join(config.runs, runtime, env), spec)


def _load(folder: str, seeds: Sequence[int]) -> Tuple[str, List[Dict[str, np.ndarray]]]:
  with open(os.path.join(folder, "run.json")) as f:
    record = json.load(f)
  columns = [results.read_seed_csv(os.path.join(folder, f"seed_{s}.csv")) for s in seeds]
  return str(record.get("xla_cpu_runtime", "not recorded")), columns


def write_report(config: RuntimeStudyConfig) -> str:
  """Writes the report from the runs folders of both runtimes; keeps its hand-written Notes."""
  seeds = list(range(config.seeds))
  notes = results.kept_notes(config.report)
  lines = [
    "# PPO under XLA's two CPU runtimes\n",
    f"Command: `{config.command.strip()}`\n",
    f"The same networks and seeds 0..{config.seeds - 1} trained twice per environment, each "
    "runtime in a process of its own (`python -m launchers.reproduce_ppo` with "
    "`--noxla_runtime` and with `--xla_runtime`). The study is "
    "`tf_equirl.experiments.runtime_study`.\n",
    "## Which runtime ran\n",
    "The runtime each run's `run.json` records, and the seeds whose per-iteration columns "
    f"({', '.join(_COLUMNS)}) differ between the two runtimes: the runtimes round floating "
    "point differently, so a seed with equal columns under both was not trained by the "
    "newer runtime.\n",
    "| environment | network | classic run records | newer run records | seeds that differ "
    "| largest difference of the policy loss |",
    "|---|---|---|---|---|---|",
  ]
  tables: List[str] = []
  for env in config.envs:
    loaded = {
      (rt, spec): _load(_folder(config, rt, env, spec), seeds)
      for rt in RUNTIMES
      for spec in config.networks
    }
    checkpoints = tuple(config.checkpoints or default_checkpoints(env) or ())
    values: Dict[str, np.ndarray] = {}
    arm_seeds: Dict[str, Sequence[int]] = {}
    pairs: List[Tuple[str, str]] = []
    summaries = {}
    for spec in config.networks:
      (rec_a, cols_a), (rec_b, cols_b) = loaded[("classic", spec)], loaded[("xla_runtime", spec)]
      differ = sum(
        any(not np.array_equal(a[c], b[c], equal_nan=True) for c in _COLUMNS if c in a)
        for a, b in zip(cols_a, cols_b)
      )
      largest = max(
        float(np.nanmax(np.abs(a["policy_loss"] - b["policy_loss"])))
        for a, b in zip(cols_a, cols_b)
      )
      lines.append(
        f"| {env} | {spec} | {rec_a} | {rec_b} | {differ} of {len(seeds)} | {largest:.3g} |"
      )
      steps = cols_a[0]["env_steps"]
      if not checkpoints:
        checkpoints = (int(steps[len(steps) // 10]), int(steps[len(steps) // 2]), int(steps[-1]))
      for rt, cols in (("classic", cols_a), ("xla_runtime", cols_b)):
        curves = np.stack([c["mean_return"] for c in cols])
        name = f"{spec}, {rt}"
        summaries[name] = results.summarize(curves, steps, checkpoints)
        for step in checkpoints:
          label = checkpoint_label(name, step)
          values[label] = at_step(curves, steps, step)
          arm_seeds[label] = seeds
      for step in checkpoints:
        pairs.append(
          (
            checkpoint_label(f"{spec}, xla_runtime", step),
            checkpoint_label(f"{spec}, classic", step),
          )
        )
    tables += [
      f"## {env}\n",
      results.markdown_summary(summaries),
      comparisons_section(
        values,
        pairs,
        arm_seeds,
        heading=f"### The newer runtime against the classic one on {env}",
        what="episodic return at each checkpoint",
      ),
    ]
  lines.append("")
  os.makedirs(os.path.dirname(os.path.abspath(config.report)), exist_ok=True)
  with open(config.report, "w") as f:
    f.write("\n".join(lines + tables) + notes)
  return config.report


def run(config: RuntimeStudyConfig) -> str:
  """Trains every environment's networks under both runtimes (finished runs are reused by
  `launchers.reproduce_ppo`) and writes the report; returns its path.

  Raises:
    RuntimeError: a training process failed (its exit status is named).
  """
  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  for env in config.envs:
    for runtime in RUNTIMES:
      argv = [sys.executable, "-m", "launchers.reproduce_ppo", *runtime_flags(config, env, runtime)]
      code = subprocess.call(argv, cwd=repo)
      if code != 0:
        raise RuntimeError(
          f"runtime_study: training {env} under the {runtime} runtime failed (exit status "
          f"{code}): {' '.join(argv)}"
        )
  return write_report(config)
