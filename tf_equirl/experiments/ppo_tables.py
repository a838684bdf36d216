"""Many-seed PPO comparisons of actor networks: thesis Tables 4.2 (CartPole) and 4.4 (Catch),
and the grid world's group ladder beyond them.

Entry point: `run(PPOTablesConfig(env="Catch-v0", seeds=128)) -> str`, the path of the
results file `results/ppo_<short>/README.md` (and its PNG), which `launchers/reproduce_ppo.py` calls.
It takes `network_arms(env, ["mlp", "gcnn@C4:invariant", ...])`, which turns network specs
into `tf_equirl.runner.Arm`s, trains them (`tf_equirl.runner.run_arms`, or Ray Tune trials;
finished ones are reused) and calls `write_report`: the table at the checkpoints, the
thesis' numbers beside ours where it has them, parameter counts, sample efficiency by group
order and the curves.

A network spec is `actor[@group][:critic]`: an actor kind of `tf_equirl.networks`, the name
of a subgroup of the environment's symmetry to build it over (default: the whole symmetry;
see `env.symmetries`) and a critic kind (default: the thesis' MLP).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import checks, envs, results
from tf_equirl.agents.ppo.config import PRESETS, default_config
from tf_equirl.envs.defaults import find_env_defaults
from tf_equirl.experiments._arms import check_backend, train_arms
from tf_equirl.experiments._compare import against_reference, comparisons_section, seeds_of
from tf_equirl.networks import ACTOR_KINDS, CRITIC_KINDS
from tf_equirl.runner import Arm, default_checkpoints

__all__ = [
  "PPOTablesConfig",
  "run",
  "THESIS",
  "DEFAULT_NETWORKS",
  "parse_network",
  "network_arms",
  "group_order",
  "ladder_pairs",
  "sample_efficiency",
  "write_report",
  "short_name",
]

# thesis Table 4.2 (CartPole) and Table 4.4 (Catch): mean +- 2 SE over 128 seeds at the
# checkpoints of `tf_equirl.envs.defaults`.
THESIS = {
  "CartPole-v1": {
    "mlp": ["102 +- 5", "260 +- 10", "497 +- 1"],
    "symmetrizer": ["116 +- 6", "240 +- 10", "500 +- 1"],
    "gcnn": ["158 +- 8", "330 +- 10", "499 +- 1"],
  },
  "Catch-v0": {
    "mlp": ["-0.51 +- 0.07", "0.70 +- 0.06", "0.875 +- 0.04"],
    "gcnn": ["-0.06 +- 0.09", "0.95 +- 0.03", "0.96 +- 0.02"],
  },
}
THESIS_TABLE = {"CartPole-v1": "4.2", "Catch-v0": "4.4"}

DEFAULT_NETWORKS = {
  "CartPole-v1": ("mlp", "symmetrizer", "gcnn"),
  "Catch-v0": ("mlp", "gcnn"),
  # the group ladder (C2 < C4 < D4) and the two non-equivariant
  # baselines (data augmentation, a symmetry-aware input encoder)
  "GridWorld-v0": ("mlp", "symmetrizer", "gcnn@C2", "gcnn@C4", "gcnn", "augment", "encoder"),
}
_FALLBACK_NETWORKS = ("mlp", "gcnn")


def parse_network(spec: str) -> Tuple[str, Optional[str], str]:
  """`"gcnn@C4:invariant"` -> `("gcnn", "C4", "invariant")`; group None, critic "mlp" when
  left out.

  Raises:
    ValueError: for an unknown actor or critic kind or an empty group name.
  """
  if not isinstance(spec, str) or not spec:
    raise ValueError(f"A network spec must be a non-empty string, received {spec!r}.")
  head, _, critic = spec.partition(":")
  actor, at, group = head.partition("@")
  if actor not in ACTOR_KINDS:
    raise ValueError(
      f"Network spec {spec!r}: unknown actor {actor!r}; expected one of "
      f"{ACTOR_KINDS}, optionally '@' and a subgroup name and ':' and a "
      f"critic in {CRITIC_KINDS}."
    )
  if critic and critic not in CRITIC_KINDS:
    raise ValueError(
      f"Network spec {spec!r}: unknown critic {critic!r}; expected one of " f"{CRITIC_KINDS}."
    )
  if at and not group:
    raise ValueError(
      f"Network spec {spec!r}: '@' must be followed by a subgroup name such " "as C2 or C4."
    )
  if critic == "" and ":" in spec:
    raise ValueError(
      f"Network spec {spec!r}: ':' must be followed by a critic in " f"{CRITIC_KINDS}."
    )
  return actor, (group or None), (critic or "mlp")


def network_arms(env: str, specs: Optional[Sequence[str]] = None, **overrides: Any) -> List[Arm]:
  """One `Arm` per network spec (named by it), each with `default_config(env)` and
  `overrides`."""
  specs = list(specs or DEFAULT_NETWORKS.get(env, _FALLBACK_NETWORKS))
  if len(set(specs)) != len(specs):
    raise ValueError(f"network_arms: networks are listed twice in {specs}.")
  arms = []
  environment = None
  for spec in specs:
    actor, group, critic = parse_network(spec)
    fields = dict(overrides, network=actor, critic=critic)
    if group is not None:
      if environment is None:
        from tf_equirl.envs import make  # pylint: disable=import-outside-toplevel

        environment = make(env)
      environment.get_symmetry(group)  # a clear error now rather than when the arm starts training
      fields["group"] = group
    arms.append(Arm(spec, actor, default_config(env, **fields)))
  return arms


def group_order(config) -> Tuple[str, int]:
  """`(name, order)` of the group `config`'s networks are built over (`("-", 1)` for the
  unconstrained MLP)."""
  if config.network == "mlp" and config.critic == "mlp":
    return "-", 1
  from tf_equirl.envs import make  # pylint: disable=import-outside-toplevel

  env = make(config.env)
  symmetry = env.get_symmetry(config.group) if config.group else env.symmetry
  return (config.group or symmetry.group.name), symmetry.group.order


def _first_crossing(
  curves: np.ndarray, env_steps: np.ndarray, threshold: float, window: int
) -> np.ndarray:
  """Env steps at which each seed's moving average first reaches `threshold` (NaN if never)."""
  smooth = results.moving_average(curves, window)
  reached = smooth >= threshold
  first = np.argmax(reached, axis=1)
  return np.where(reached.any(axis=1), env_steps[first].astype(float), np.nan)


def sample_efficiency(
  runs: Mapping[str, tuple], threshold: Optional[float] = None, window: int = 10
) -> Tuple[float, Dict[str, Dict[str, float]]]:
  """How fast each arm gets to a return: `(threshold, {arm: stats})`.

  `threshold` defaults to the MLP's mean return at its last iteration ("how many steps
  does each network need for what the MLP has at the end"), or without an "mlp" run to 90 %
  of the way from the lowest first-iteration mean to the highest final mean. Per arm: the mean return over the whole run (the area
  under the curve divided by its length), the fraction of seeds whose moving average
  (`window` iterations, as the plots) reaches the threshold, the median step at which they
  do (seeds that never do count as the last step, so it is a lower bound when not all
  reach it) and its ratio to the MLP's (> 1: fewer steps than the MLP).
  """
  if not runs:
    raise ValueError("sample_efficiency needs at least one run.")
  if threshold is None and "mlp" in runs:
    threshold = float(np.mean(runs["mlp"][1][:, -1]))
  if threshold is None:
    lo = min(float(np.mean(c[:, 0])) for _, c, _ in runs.values())
    hi = max(float(np.mean(c[:, -1])) for _, c, _ in runs.values())
    threshold = lo + 0.9 * (hi - lo)
  stats = {}
  for name, (steps, curves, _) in runs.items():
    crossing = _first_crossing(curves, steps, threshold, window)
    filled = np.where(np.isnan(crossing), float(steps[-1]), crossing)
    stats[name] = {
      "auc": float(np.mean(curves)),
      "auc_2se": float(2 * np.std(np.mean(curves, axis=1), ddof=1) / np.sqrt(max(len(curves), 1)))
      if len(curves) > 1
      else 0.0,
      "reached": float(np.mean(~np.isnan(crossing))),
      "median_steps": float(np.median(filled)),
    }
  if "mlp" in stats:
    for s in stats.values():
      s["speedup"] = stats["mlp"]["median_steps"] / s["median_steps"]
  return float(threshold), stats


def ladder_pairs(orders: Mapping[str, Tuple[str, int]]) -> List[Tuple[str, str]]:
  """The comparisons along the group ladder, each `(a, b)` read as `a - b`:

  1. each actor family over several groups (`gcnn@C2`, `gcnn@C4`, `gcnn`; the family is the
     name before `@` and `:`) one rung at a time, from the MLP (|G| = 1) up, each network
     against the next smaller group's;
  2. at the largest group, every other network against the exact G-CNN (`gcnn`, when it ran
     there): the constraint against augmentation, the Symmetrizer, an equivariant encoder
     with a free head, steerable features.

  Args:
    orders: arm name -> `(group name, |G|)` (`group_order`).
  """
  family = lambda name: name.split("@")[0].split(":")[0]  # noqa: E731
  pairs: List[Tuple[str, str]] = []
  families: Dict[str, List[str]] = {}
  for name in orders:
    if name != "mlp" and ":" not in name:
      families.setdefault(family(name), []).append(name)
  for members in families.values():
    if len({orders[m][1] for m in members}) < 2:
      continue
    chain = (["mlp"] if "mlp" in orders else []) + sorted(members, key=lambda m: orders[m][1])
    pairs += [(upper, lower) for lower, upper in zip(chain, chain[1:])]
  top = max(order for _, order in orders.values())
  if "gcnn" in orders and orders["gcnn"][1] == top:
    pairs += [(name, "gcnn") for name, (_, o) in orders.items() if o == top and name != "gcnn"]
  return list(dict.fromkeys(pairs))


def write_report(
  path: str,
  env: str,
  arms: Sequence[Arm],
  runs: Mapping[str, tuple],
  seeds: Sequence[int],
  command: str,
  checkpoints: Optional[Sequence[int]] = None,
  title: Optional[str] = None,
  figure: Optional[str] = None,
) -> str:
  """Writes the results markdown and its curves PNG (`figure`, default the markdown's path
  with `.png`); keeps its hand-written Notes. With an `mlp` arm, a comparisons table sets
  every other network against it at every checkpoint (`tf_equirl.stats.compare`)."""
  arms = [a for a in arms if a.name in runs]
  if not arms:
    raise ValueError("write_report: none of the arms has runs.")
  steps = runs[arms[0].name][0]
  checkpoints = tuple(
    checkpoints
    or default_checkpoints(env)
    or (int(steps[len(steps) // 10]), int(steps[len(steps) // 2]), int(steps[-1]))
  )
  per_iteration = int(steps[1] - steps[0]) if len(steps) > 1 else int(steps[0])
  # a checkpoint the runs did not reach would silently read their last iteration
  checkpoints = tuple(c for c in checkpoints if c < steps[-1] + per_iteration) or (int(steps[-1]),)
  summaries = {
    a.name: results.summarize(runs[a.name][1], runs[a.name][0], checkpoints) for a in arms
  }
  png = figure or os.path.splitext(path)[0] + ".png"
  results.plot_curves(
    png,
    {a.name: runs[a.name][1] for a in arms},
    steps,
    title=f"{env}: PPO, {len(seeds)} seeds per network",
  )
  notes = results.kept_notes(path)
  lines = [
    f"# {title or f'PPO on {env}: equivariant vs MLP actors'}\n",
    f"Command: `{command.strip()}`\n",
    f"Mean episodic return +- 2 standard errors over {len(seeds)} seeds (seeds "
    "0..N-1); in brackets the worst-decile cumulative mean. The return is\nPureJaxRL's "
    "metric: each environment's last finished episodic return, averaged over the steps "
    "and environments of the iteration that reaches the step count.\n",
    results.markdown_summary(summaries),
  ]
  if env in THESIS:
    thesis = THESIS[env]
    listed = [a.name for a in arms if a.name in thesis]
    lines += [
      f"Thesis (Table {THESIS_TABLE[env]}, 128 seeds):\n",
      "| env steps | " + " | ".join(listed) + " |",
      "|---|" + "---|" * len(listed),
    ]
    lines += [
      f"| {s:,} | " + " | ".join(thesis[n][j] for n in listed) + " |"
      for j, s in enumerate(default_checkpoints(env))
    ]
    lines.append("")
  orders = {a.name: group_order(a.config) for a in arms}
  lines += [
    "| network | group | \\|G\\| | actor params | critic params | total |",
    "|---|---|---:|---:|---:|---:|",
  ]
  for a in arms:
    counts = runs[a.name][2]
    name, order = orders[a.name]
    lines.append(
      f"| {a.name} | {name} | {order} | {counts['actor']} | {counts['critic']} | "
      f"{counts['actor'] + counts['critic']} |"
    )
  if "mlp" in runs and len(arms) > 1:
    chosen = {a.name: runs[a.name] for a in arms}
    values, pairs, arm_seeds = against_reference(
      chosen, "mlp", [a.name for a in arms if a.name != "mlp"], checkpoints, seeds_of(chosen, seeds)
    )
    lines += [
      "",
      comparisons_section(
        values,
        pairs,
        arm_seeds,
        heading="## Each network against the MLP",
        what="episodic return at each checkpoint",
      ),
    ]
  if len({o for _, o in orders.values()}) > 2:
    threshold, eff = sample_efficiency({a.name: runs[a.name] for a in arms})
    lines += [
      "\n## Sample efficiency by group\n",
      f"Mean return over the whole run (area under the curve / steps, +- 2 SE) and the "
      f"env steps until the moving average of 10 iterations first reaches {threshold:.3g} "
      f"({'the MLP' + chr(39) + 's mean return at its last iteration' if 'mlp' in eff else '90 % of the way from the lowest first to the highest final mean'}; "
      "median over seeds, a seed that never reaches it counts as the last step, so "
      "a median at the last step is a lower bound); speed-up = the MLP's median steps / "
      "the network's.\n",
      "| network | \\|G\\| | mean return over run | seeds reaching | median steps | "
      "speed-up vs mlp |",
      "|---|---:|---:|---:|---:|---:|",
    ]
    for a in sorted(arms, key=lambda a: (orders[a.name][1], a.name)):
      s = eff[a.name]
      speed = f"{s['speedup']:.2f}x" if "speedup" in s else "-"
      lines.append(
        f"| {a.name} | {orders[a.name][1]} | {s['auc']:.3f} +- {s['auc_2se']:.3f} | "
        f"{s['reached']:.0%} | {s['median_steps']:,.0f} | {speed} |"
      )
  ladder = ladder_pairs(orders) if len({o for _, o in orders.values()}) > 2 else []
  if ladder:
    seeds_by_arm = seeds_of({a.name: runs[a.name] for a in arms}, seeds)
    lines += [
      "",
      comparisons_section(
        {a.name: np.mean(np.asarray(runs[a.name][1], np.float64), axis=1) for a in arms},
        ladder,
        seeds_by_arm,
        heading="## Along the group ladder",
        what="mean return over the run (per seed: the area under its curve / steps), each "
        "actor family one group up at a time from the MLP, and at the largest group every "
        "other network against the exact G-CNN",
      ),
    ]
  lines += [
    "\nTraining throughput is measured separately on a quiet machine: "
    "`python benchmarks/ppo_throughput.py` (README, Throughput).\n",
    f"![curves]({os.path.basename(png)})\n",
  ]
  with open(path, "w") as f:
    f.write("\n".join(lines) + notes)
  return path


def short_name(env: str) -> str:
  """The short name of `env`'s results folder (`results/ppo_<short>/`): the table's
  (`tf_equirl.envs.defaults`), else the id's first part in lower case."""
  found = find_env_defaults(env)
  return found.short_name if found is not None else env.split("-")[0].lower()


@dataclasses.dataclass
class PPOTablesConfig:
  """What `run` trains and where it writes.

  Attributes:
    env: a registered environment (`tf_equirl.envs.list_envs()`; symmetry-breaking variants
      belong to `tf_equirl.experiments.approx_equivariance`).
    seeds: seeds per network, 0..N-1.
    networks: network specs `actor[@group][:critic]` (None: `DEFAULT_NETWORKS` of `env`).
    total_steps: environment steps per seed (None: the environment's default config).
    preset: named PPO settings instead of the thesis' printed ones
      (`tf_equirl.agents.ppo.PRESETS`).
    checkpoints: environment steps of the table's rows (None: the environment's table
      columns, else 10 %, 50 %, 100 % of the run).
    runs: folder of the per-seed outputs (`<runs>/<env>/<network>`).
    results: folder of the results file and its plot.
    report: path of the results file (None: `<results>/ppo_<short>/README.md`, the
      study's folder); its curves `ppo_<short>.png` go beside it.
    resume: reuse a network's finished runs instead of training it again.
    progress: show progress bars.
    backend: "local" (this process trains the seeds one after another) or "ray" (the seeds
      run as Ray Tune trials, `tf_equirl.sweeps`).
    address: with `backend="ray"`, the Ray cluster to join (None: a local Ray).
    seeds_per_trial: with `backend="ray"`, seeds per trial (None: all in one).
    command: the command line written into the results file.
  """

  env: str = "CartPole-v1"
  seeds: int = 32
  networks: Optional[Tuple[str, ...]] = None
  total_steps: Optional[int] = None
  preset: Optional[str] = None
  checkpoints: Optional[Tuple[int, ...]] = None
  runs: str = os.path.join("runs", "reproduce")
  results: str = "results"
  report: Optional[str] = None
  resume: bool = True
  progress: bool = True
  backend: str = "local"
  address: Optional[str] = None
  seeds_per_trial: Optional[int] = 16
  command: str = "python -m launchers.reproduce_ppo"

  def __post_init__(self):
    if self.env not in envs.list_envs():
      raise ValueError(
        f"PPOTablesConfig.env must be a registered environment, one of "
        f"{envs.list_envs()}, received {self.env!r} (symmetry-breaking variants "
        "are trained by launchers.train_ppo and launchers.reproduce_approx)."
      )
    checks.positive_int("PPOTablesConfig", "seeds", self.seeds)
    checks.positive_int("PPOTablesConfig", "total_steps", self.total_steps, allow_none=True)
    checks.positive_int("PPOTablesConfig", "seeds_per_trial", self.seeds_per_trial, allow_none=True)
    if self.preset is not None and self.preset not in PRESETS:
      raise ValueError(
        f"PPOTablesConfig.preset must be None or one of {sorted(PRESETS)}, "
        f"received {self.preset!r}."
      )
    check_backend("PPOTablesConfig", self.backend)
    self.arms()  # an unknown network spec or subgroup fails here, before any training

  def arms(self) -> List[Arm]:
    """The arms of the table: one per network spec."""
    overrides: Dict[str, Any] = (
      {"total_steps": self.total_steps} if self.total_steps is not None else {}
    )
    if self.preset:
      overrides["preset"] = self.preset
    return network_arms(self.env, self.networks, **overrides)


def run(config: PPOTablesConfig) -> str:
  """Trains every network of `config` for its seeds (reusing finished runs) and writes
  `config.report` (default `<results>/ppo_<short>/README.md`) with `ppo_<short>.png` beside it;
  returns the markdown's path."""
  arms = config.arms()
  seeds = list(range(config.seeds))
  runs = train_arms(
    arms,
    seeds,
    os.path.join(config.runs, config.env),
    resume=config.resume,
    progress=config.progress,
    backend=config.backend,
    address=config.address,
    seeds_per_trial=config.seeds_per_trial,
  )
  short = short_name(config.env)
  path = config.report or os.path.join(config.results, f"ppo_{short}", "README.md")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  title = None
  if config.preset:
    settings = ", ".join(f"{k}={v:g}" for k, v in PRESETS[config.preset].items())
    title = (
      f"PPO on {config.env} with the `{config.preset}` preset ({settings}; the rest the "
      "thesis'): equivariant vs MLP actors"
    )
  return write_report(
    path,
    config.env,
    arms,
    runs,
    seeds,
    config.command,
    config.checkpoints,
    title=title,
    figure=os.path.join(os.path.dirname(path), f"ppo_{short}.png"),
  )
