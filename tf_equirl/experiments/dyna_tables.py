"""Supervised-Dyna and online Dyna across seeds: thesis Tables 4.5 (CartPole) and 4.6 (Catch),
Figs. 4.8 and 4.10, the online grid of thesis 4.8 (Fig. 4.11), and Dyna's levers beyond them.

Entry point: `run(DynaTablesConfig(env="Catch-v0", part="supervised", seeds=32)) -> str`, the
path of the results file (`results/dyna_<short>[_levers|_online]/README.md`, each with its
PNG), which `launchers/reproduce_dyna.py` calls. Its parts:

* `supervised_arms(env)`: the agents of thesis 4.7.5.3 / 4.7.6.2, the model-free baseline (the
  same PPO settings, no planning), Dyna (MLP world model) and Equi-Dyna (G-CNN world model;
  mean pooling, or the thesis' proximal pooling as `equi_dyna_proximal`) at each planning
  ratio; `write_report` writes the table at the thesis' checkpoints, the best planning ratio
  per world model, the thesis' numbers beside ours and the curves.
* `lever_arms`: online Dyna with and without orbit-augmented model data, branched rollouts and
  a whole-run model buffer.
* `online_grid_arms` and `write_grid_report`: online Dyna over planning ratios x Dyna
  iterations (thesis 4.8), trained here or read from sweeps (`grid_runs_from_sweeps`).

The arms train with `tf_equirl.runner.run_arms` (or as Ray Tune trials); finished ones are
reused.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import checks, results, runs as runs_lib, stats
from tf_equirl.agents.dyna.config import DynaConfig, default_dyna_config
from tf_equirl.envs.defaults import DEFAULTS, env_defaults
from tf_equirl.experiments._arms import check_backend, train_arms
from tf_equirl.experiments._compare import (
  against_reference,
  at_step,
  checkpoint_label,
  compared,
  comparisons_section,
  comparisons_text,
  seeds_of,
)
from tf_equirl.runner import Arm, default_checkpoints

__all__ = [
  "DynaTablesConfig",
  "run",
  "PARTS",
  "DYNA_ENVS",
  "THESIS",
  "LEVERS",
  "supervised_arms",
  "lever_arms",
  "online_grid_arms",
  "best_ratio",
  "write_report",
  "world_model_pairs",
  "write_grid_report",
  "grid_runs_from_sweeps",
  "final_transition_accuracy",
]

# thesis Table 4.5 (CartPole; Dyna at planning ratio 1, Equi-Dyna at 8) and Table 4.6 (Catch;
# Dyna at 4, Equi-Dyna at 8): mean +- 2 SE over 128 seeds at the checkpoints of
# `tf_equirl.envs.defaults`; Supervised-Dyna, 50 Dyna iterations, MLP actor-critics.
THESIS = {
  "CartPole-v1": {
    "baseline": ["102 +- 5", "260 +- 10", "497 +- 1"],
    "dyna": ["110 +- 10", "245 +- 20", "500 +- 1"],
    "equi_dyna": ["120 +- 10", "498 +- 2", "498 +- 13"],
  },
  "Catch-v0": {
    "baseline": ["-0.51 +- 0.07", "0.70 +- 0.06", "0.875 +- 0.04"],
    "dyna": ["-0.41 +- 0.09", "0.64 +- 0.06", "0.88 +- 0.06"],
    "equi_dyna": ["-0.29 +- 0.09", "0.67 +- 0.05", "0.90 +- 0.05"],
  },
}
THESIS_RATIOS = {
  "CartPole-v1": {"dyna": 1, "equi_dyna": 8},
  "Catch-v0": {"dyna": 4, "equi_dyna": 8},
}
WORLD_MODEL_OF = {"dyna": "mlp", "equi_dyna": "gcnn", "equi_dyna_proximal": "gcnn_proximal"}
"""Agent name -> world model: Equi-Dyna is the G-CNN with mean pooling (exactly equivariant);
`equi_dyna_proximal` the thesis' own Equi-Dyna, a G-CNN with proximal pooling (4.7.4)."""
AGENT_OF = {model: agent for agent, model in WORLD_MODEL_OF.items()}


def _dyna_config(arm: Arm) -> DynaConfig:
  """`arm.config` of a Dyna arm.

  Raises:
    ValueError: `arm` holds another configuration (the model-free baseline's `PPOConfig`).
  """
  if not isinstance(arm.config, DynaConfig):
    raise ValueError(
      f"Arm {arm.name!r} holds a {type(arm.config).__name__}; expected a " "DynaConfig."
    )
  return arm.config


def _planning_ratio(arm: Arm) -> float:
  """`arm.planning_ratio` of a Dyna arm.

  Raises:
    ValueError: `arm` has no planning ratio (the model-free baseline).
  """
  if arm.planning_ratio is None:
    raise ValueError(f"Arm {arm.name!r} has no planning ratio; expected a Dyna arm.")
  return arm.planning_ratio


def supervised_arms(
  env: str,
  ratios: Sequence[float] = (1, 2, 4, 8),
  dyna_iterations: int = 50,
  total_steps: Optional[int] = None,
  mode: str = "supervised",
  world_models: Sequence[str] = ("mlp", "gcnn"),
) -> List[Arm]:
  """Baseline + Dyna (MLP model) + Equi-Dyna (G-CNN model, mean pooling) and, with
  `"gcnn_proximal"` in `world_models`, the thesis' Equi-Dyna with proximal pooling, at every
  planning ratio."""
  unknown = [m for m in world_models if m not in AGENT_OF]
  if unknown or not world_models:
    raise ValueError(f"Unknown world models {unknown}; expected some of {sorted(AGENT_OF)}.")
  ppo = {"total_steps": total_steps} if total_steps else {}
  arms = []
  for model in world_models:
    agent = AGENT_OF[model]
    for ratio in ratios:
      cfg = default_dyna_config(
        env,
        ppo_overrides=ppo,
        mode=mode,
        world_model=model,
        planning_ratio=ratio,
        dyna_iterations=dyna_iterations,
      )
      arms.append(Arm(f"{agent}_pr{ratio:g}", agent, cfg, ratio))
  # The baseline is the same actor-critic and PPO settings with no planning, over the same
  # real steps (rounded up to whole Dyna iterations as the Dyna agents are).
  base = _dyna_config(arms[0])
  baseline = dataclasses.replace(base.ppo, total_steps=base.total_real_steps)
  return [Arm("baseline", "baseline", baseline)] + arms


LEVERS = ("thesis", "orbit", "branched", "all_data", "all_levers")
"""The variants of `lever_arms`: the thesis' online Dyna, each lever alone, all together."""


def lever_arms(
  env: str,
  ratio: float,
  dyna_iterations: int,
  total_steps: Optional[int] = None,
  models: Sequence[str] = ("mlp", "gcnn"),
  horizon: int = 20,
  model_epochs: Optional[int] = None,
  levers: Sequence[str] = LEVERS,
) -> List[Arm]:
  """Online Dyna with the levers the thesis did not use, one at a time and together:
  orbit-augmented model data, branched short rollouts, a model buffer of all real data
  (`levers`: which variants of `LEVERS`)."""
  unknown = [name for name in levers if name not in LEVERS]
  if unknown or not levers:
    raise ValueError(f"Unknown levers {unknown}; expected some of {LEVERS}.")
  ppo = {"total_steps": total_steps} if total_steps else {}
  variants: Dict[str, Dict[str, Any]] = {
    "thesis": {},
    "orbit": {"orbit_augmentation": True},
    "branched": {"rollout_start": "buffer", "rollout_horizon": horizon},
    "all_data": {"model_buffer": "all"},
    "all_levers": {
      "orbit_augmentation": True,
      "rollout_start": "buffer",
      "rollout_horizon": horizon,
      "model_buffer": "all",
    },
  }
  arms = []
  for model in models:
    agent = AGENT_OF[model]
    for name, fields in ((n, variants[n]) for n in levers):
      cfg = default_dyna_config(
        env,
        ppo_overrides=ppo,
        mode="online",
        world_model=model,
        planning_ratio=ratio,
        dyna_iterations=dyna_iterations,
        model_epochs=model_epochs,
        **fields,
      )
      arms.append(Arm(f"online_{agent}_{name}", agent, cfg, ratio))
  base = _dyna_config(arms[0])
  return [
    Arm("baseline", "baseline", dataclasses.replace(base.ppo, total_steps=base.total_real_steps))
  ] + arms


def best_ratio(arms: Sequence[Arm], runs: Dict[str, tuple], agent: str) -> Arm:
  """The planning ratio whose mean return over the whole run (the area under the mean
  curve) is highest: "the best planning ratios were chosen" (thesis 4.7.5.3)."""
  candidates = [a for a in arms if a.agent == agent and a.name in runs]
  return max(candidates, key=lambda a: float(np.mean(runs[a.name][1])))


def world_model_pairs(arms: Sequence[Arm]) -> List[Tuple[str, str]]:
  """`(equivariant arm, MLP arm)` pairs: every arm of an equivariant world model
  (`equi_dyna`, `equi_dyna_proximal`) with the Dyna arm (MLP world model) of the same
  planning ratio or variant (its name with the agent replaced by `dyna`), where there is one."""
  names = {a.name for a in arms}
  pairs = []
  for a in arms:
    if a.agent in WORLD_MODEL_OF and a.agent != "dyna":
      twin = a.name.replace(a.agent, "dyna", 1)
      if twin in names:
        pairs.append((a.name, twin))
  return pairs


def write_report(
  path: str,
  env: str,
  arms: Sequence[Arm],
  runs: Dict[str, tuple],
  seeds: Sequence[int],
  command: str,
  title: str,
  checkpoints: Optional[Sequence[int]] = None,
  thesis: bool = True,
  figure: Optional[str] = None,
) -> str:
  """Writes the results markdown and its curves PNG (`figure`, default the markdown's path
  with `.png`); keeps its hand-written Notes. A comparisons table sets every Dyna arm
  against the model-free baseline at every checkpoint (`tf_equirl.stats.compare`)."""
  checkpoints = tuple(checkpoints or env_defaults(env).checkpoints)
  steps = runs[arms[0].name][0]
  checkpoints = tuple(c for c in checkpoints if c <= steps[-1]) or (int(steps[-1]),)
  summaries = {
    a.name: results.summarize(runs[a.name][1], runs[a.name][0], checkpoints)
    for a in arms
    if a.name in runs
  }
  chosen = {"baseline": next(a for a in arms if a.agent == "baseline")}
  for agent in WORLD_MODEL_OF:
    if any(a.agent == agent for a in arms):
      chosen[agent] = best_ratio(arms, runs, agent)
  png = figure or os.path.splitext(path)[0] + ".png"
  results.plot_curves(
    png,
    {f"{k} ({a.name})": runs[a.name][1] for k, a in chosen.items()},
    steps,
    title=f"{env}: {title}, {len(seeds)} seeds",
  )
  notes = results.kept_notes(path)
  lines = [
    f"# {title} on {env}\n",
    f"Command: `{command}`\n",
    f"Mean episodic return on the **real** environment +- 2 standard errors over "
    f"{len(seeds)} seeds (seeds 0..N-1), in brackets the worst-decile cumulative mean, "
    "at real environment steps (planned steps are not counted). MLP actor-critics "
    "(thesis 4.7.5.3); the baseline is the same PPO without planning.\n",
    "## Best planning ratio per world model\n" if thesis else "## Best variant per world model\n",
    results.markdown_summary({k: summaries[a.name] for k, a in chosen.items()}),
    "\n" + ", ".join(f"{k}: {a.name}" for k, a in chosen.items()) + "\n",
  ]
  if thesis and env in THESIS:
    t = THESIS[env]
    ratios = THESIS_RATIOS[env]
    lines += [
      f"\nThesis (Table {'4.5' if env == 'CartPole-v1' else '4.6'}, 128 seeds, "
      f"{env_defaults(env).checkpoints[-1]:,} real steps; Dyna at planning ratio "
      f"{ratios['dyna']}, Equi-Dyna at {ratios['equi_dyna']}):\n",
      "| env steps | baseline | dyna | equi_dyna |\n|---|---|---|---|",
    ]
    lines += [
      f"| {s:,} | {t['baseline'][j]} | {t['dyna'][j]} | {t['equi_dyna'][j]} |"
      for j, s in enumerate(env_defaults(env).checkpoints)
    ]
    lines.append("")
  lines += [
    "\n## Every configuration\n",
    results.markdown_summary(summaries),
    "\n| configuration | actor | critic | world model | planned steps per seed |",
    "|---|---|---|---|---|",
  ]
  for a in arms:
    if a.name not in runs:
      continue
    counts = runs[a.name][2]
    planned = (
      int(round(a.config.planning_ratio * a.config.total_real_steps))
      if isinstance(a.config, DynaConfig)
      else 0
    )
    lines.append(
      f"| {a.name} | {counts['actor']} | {counts['critic']} | "
      f"{counts.get('world_model', '-')} | {planned:,} |"
    )
  trained = {a.name: runs[a.name] for a in arms if a.name in runs}
  if "baseline" in trained:
    values, pairs, arm_seeds = against_reference(
      trained,
      "baseline",
      [n for n in trained if n != "baseline"],
      checkpoints,
      seeds_of(trained, seeds),
    )
    lines += [
      "",
      comparisons_section(
        values,
        pairs,
        arm_seeds,
        heading="## Each configuration against the baseline",
        what="real-environment return at each checkpoint",
      ),
    ]
  model_pairs = world_model_pairs([a for a in arms if a.name in trained])
  if model_pairs:
    model_values: Dict[str, np.ndarray] = {}
    model_seeds: Dict[str, Sequence[int]] = {}
    labelled: List[Tuple[str, str]] = []
    by_arm = seeds_of(trained, seeds)
    for step in checkpoints:
      for equi, mlp in model_pairs:
        for name in (equi, mlp):
          label = checkpoint_label(name, step)
          model_values[label] = at_step(trained[name][1], trained[name][0], step)
          model_seeds[label] = by_arm[name]
        labelled.append((checkpoint_label(equi, step), checkpoint_label(mlp, step)))
    lines += [
      "",
      comparisons_section(
        model_values,
        labelled,
        model_seeds,
        heading="## Each equivariant world model against the MLP world model",
        what="real-environment return at each checkpoint, at the same planning ratio or " "variant",
      ),
    ]
  lines.append(f"\n![curves]({os.path.basename(png)})\n")
  with open(path, "w") as f:
    f.write("\n".join(lines) + notes)
  return path


def online_grid_arms(
  env: str,
  ratios: Sequence[float] = (0.5, 1, 2, 4, 8),
  iterations: Sequence[int] = (5, 10, 50, 100),
  models: Sequence[str] = ("mlp", "gcnn"),
  total_steps: Optional[int] = None,
  model_epochs: Optional[int] = None,
) -> List[Arm]:
  """Online Dyna (thesis 4.8, Fig. 4.11): every world model x planning ratio x Dyna
  iterations, plus the model-free baseline."""
  ppo = {"total_steps": total_steps} if total_steps else {}
  arms = []
  for model in models:
    agent = AGENT_OF[model]
    for ratio in ratios:
      for count in iterations:
        cfg = default_dyna_config(
          env,
          ppo_overrides=ppo,
          mode="online",
          world_model=model,
          planning_ratio=ratio,
          dyna_iterations=count,
          model_epochs=model_epochs,
        )
        arms.append(Arm(f"online_{model}_pr{ratio:g}_it{count}", agent, cfg, ratio))
  longest = max(_dyna_config(a).total_real_steps for a in arms)
  base = dataclasses.replace(_dyna_config(arms[0]).ppo, total_steps=longest)
  return [Arm("baseline", "baseline", base)] + arms


def write_grid_report(
  path: str,
  env: str,
  arms: Sequence[Arm],
  runs: Dict[str, tuple],
  seeds: Sequence[int],
  command: str,
  figure: Optional[str] = None,
) -> str:
  """Online Dyna grid: a table per world model (planning ratio x Dyna iterations, each cell's
  return at every checkpoint), a comparisons table of every cell against the model-free
  baseline at every checkpoint (`tf_equirl.stats.compare`, paired over seeds, Holm's
  correction across the whole table) and a Fig. 4.11-style matrix of plots (`figure`,
  default the markdown's path with `.png`). A cell is bold where that table reads "beats"
  at one checkpoint or more."""
  base_steps, base_curves, _ = runs["baseline"]
  grid = [a for a in arms if a.agent != "baseline" and a.name in runs]
  # (world model, planning ratio, Dyna iterations) of each grid cell
  cell = {
    a.name: (_dyna_config(a).world_model, _planning_ratio(a), _dyna_config(a).dyna_iterations)
    for a in grid
  }
  models = sorted({m for m, _, _ in cell.values()}, key=list(AGENT_OF).index)
  ratios = sorted({r for _, r, _ in cell.values()})
  counts = sorted({n for _, _, n in cell.values()})
  final = min(int(runs[a.name][0][-1]) for a in grid)
  per_cell = sorted({runs[a.name][1].shape[0] for a in grid})
  cell_seeds = "/".join(str(n) for n in per_cell)
  checkpoints = tuple(c for c in default_checkpoints(env) if c <= final)
  if not checkpoints or checkpoints[-1] < final:
    # The last cell's final step (whole Dyna iterations can end a little short of the run's
    # total, e.g. 99,840 of 100,000), so the table always reports the end of the runs.
    checkpoints += (final,)
  b = results.summarize(base_curves, base_steps, checkpoints)
  grid_runs = {a.name: runs[a.name] for a in grid}
  values, pairs, arm_seeds = against_reference(
    {"baseline": runs["baseline"], **grid_runs},
    "baseline",
    list(grid_runs),
    checkpoints,
    seeds_of({"baseline": runs["baseline"], **grid_runs}, seeds),
  )
  diffs, left_out = compared(values, pairs, arm_seeds)
  reading = {d.a: stats.verdict(d) for d in diffs}
  beats = {
    name
    for name in grid_runs
    if any(reading.get(checkpoint_label(name, step)) == "beats" for step in checkpoints)
  }
  png = figure or os.path.splitext(path)[0] + ".png"
  panels = {}
  for model in models:
    for ratio in ratios:
      panel = {
        f"{count} Dyna iterations": tuple(runs[a.name][:2])
        for count in counts
        for a in grid
        if cell[a.name] == (model, ratio, count)
      }
      panels[f"{model} world model, planning ratio {ratio:g}"] = {
        **panel,
        "model-free baseline": base_curves,
      }
  results.plot_curve_panels(
    png, panels, base_steps, title=f"{env}: online Dyna, {cell_seeds} seeds per cell"
  )
  lines = [
    f"# Online Dyna on {env}: planning ratio x Dyna iterations (thesis 4.8, Fig. 4.11)\n",
    f"Command: `{command}`\n",
    f"Mean episodic return on the real environment +- 2 SE over {cell_seeds} seeds per "
    f"cell ({base_curves.shape[0]} for the baseline) at "
    f"{' / '.join(f'{c:,}' for c in checkpoints)} real steps; world models learnt online from scratch "
    f"({_dyna_config(arms[1]).epochs} epochs per Dyna iteration on the last acting phase's "
    "transitions, eq. 4.34), MLP actor-critics. **Bold**: the cell beats the model-free "
    f"baseline at one checkpoint or more, read from the comparisons table below ({len(diffs)} "
    "comparisons, Holm's correction across them).\n",
    "Model-free baseline: "
    + " / ".join(results.format_mean(r["mean"], r["two_se"]) for r in b)
    + ".\n",
  ]
  better = []
  for model in models:
    lines += [
      f"\n### {model} world model\n",
      "| planning ratio | " + " | ".join(f"{c} Dyna iterations" for c in counts) + " |",
      "|---|" + "---|" * len(counts),
    ]
    for ratio in ratios:
      cells = []
      for count in counts:
        arm = next((a for a in grid if cell[a.name] == (model, ratio, count)), None)
        if arm is None:
          cells.append("-")
          continue
        s = results.summarize(runs[arm.name][1], runs[arm.name][0], checkpoints)
        text = " / ".join(results.format_mean(r["mean"], r["two_se"]) for r in s)
        if arm.name in beats:
          better.append(arm.name)
          text = f"**{text}**"
        cells.append(text)
      lines.append(f"| {ratio:g} | " + " | ".join(cells) + " |")
  lines.append(
    f"\nCells that beat the baseline at a checkpoint or more: {', '.join(better) or 'none'}.\n"
  )
  lines.append(
    comparisons_text(
      diffs,
      left_out,
      heading="### Each cell against the baseline",
      what="real-environment return at each checkpoint",
    )
  )
  lines.append(f"\n![matrix]({os.path.basename(png)})\n")
  notes = results.kept_notes(path)
  with open(path, "w") as f:
    f.write("\n".join(lines) + notes)
  return path


def grid_runs_from_sweeps(
  sweep_dirs: Sequence[str], baseline: Arm, baseline_dir: str, baseline_seeds: Sequence[int]
) -> Tuple[List[Arm], Dict[str, tuple]]:
  """Arms and runs of an online grid swept with `launchers.sweep --algo=dyna` (one sweep per
  world model), plus the model-free baseline's finished runs from `run_arms`."""
  from tf_equirl import sweeps  # pylint: disable=import-outside-toplevel

  done = runs_lib.load_finished_run(baseline_dir, baseline.config, baseline_seeds)
  if done is None:
    raise ValueError(
      f"No finished baseline runs of {len(baseline_seeds)} seeds in "
      f"{baseline_dir}; run launchers.reproduce_dyna --part=supervised first."
    )
  arms, runs = [baseline], {"baseline": done}
  for folder in sweep_dirs:
    for c in sweeps.aggregate(folder).configs:
      cfg = DynaConfig(**c.config)
      agent = AGENT_OF[cfg.world_model]
      name = f"online_{cfg.world_model}_pr{cfg.planning_ratio:g}_it{cfg.dyna_iterations}"
      arms.append(Arm(name, agent, cfg, cfg.planning_ratio))
      runs[name] = (c.env_steps, c.curves, {})
  return arms, runs


def final_transition_accuracy(model, env) -> Dict[str, float]:
  """How a Catch world model predicts the transition it never learned (ball into the paddle's
  row, masked from the loss): the fraction of the state-action pairs with the ball in the row
  above the paddle whose predicted ball column / paddle column are right. Why the planner
  moves the ball by the game's rule there (`tf_equirl.agents.dyna.world`)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from tf_equirl.models.analysis import all_state_action_pairs  # pylint: disable=import-outside-toplevel
  from tf_equirl.models.dynamics import model_dynamics  # pylint: disable=import-outside-toplevel

  pairs = all_state_action_pairs(env)
  last = pairs["state"][:, 0] == env.rows - 2
  state = tf.constant(pairs["state"][last])
  action = tf.constant(pairs["action"][last])
  predicted = model_dynamics(model, env)(state, action).numpy()
  true = env.physics(state, action).numpy()
  return {
    "pairs": int(last.sum()),
    "ball_column": float(np.mean(predicted[:, 1] == true[:, 1])),
    "paddle": float(np.mean(predicted[:, 2] == true[:, 2])),
  }


PARTS = ("supervised", "levers", "online_grid")
DYNA_ENVS = tuple(sorted(env for env, row in DEFAULTS.items() if row.has_dyna))


@dataclasses.dataclass
class DynaTablesConfig:
  """What `run` trains and where it writes.

  Attributes:
    env: an environment with the thesis' Dyna settings ("CartPole-v1", "Catch-v0").
    part: "supervised" (the thesis' tables: baseline, Dyna and Equi-Dyna with the zoo's
      pretrained world models at every planning ratio), "levers" (online Dyna with and
      without each lever, at one planning ratio) or "online_grid" (online Dyna over
      planning ratios x Dyna iterations per world model, thesis 4.8).
    seeds: seeds per configuration, 0..N-1.
    planning_ratios: planned steps per real step of the arms.
    dyna_iterations: Dyna iterations of the arms (one value except for the online grid).
    models: world models ("mlp", "gcnn", and for the supervised part "gcnn_proximal"), of
      every part.
    from_sweeps: online grid only: report the grid already swept with `launchers.sweep
      --algo=dyna` into these folders (one per world model) instead of training it; the
      baseline comes from the supervised part's runs.
    total_steps: real environment steps per seed (None: the thesis' for `env`).
    model_epochs: online world-model epochs per Dyna iteration (None: the environment's).
    horizon: branched-rollout horizon of the levers.
    checkpoints: real steps the tables report at (None: the environment's table rows;
      CartPole: 10k, 100k, 500k); the registry's CartPole study adds 200,000 for the text of
      thesis 4.7.5.3, which reads Table 4.5 "at the 20%, 40%, and 100% completion".
    levers: the levers part's variants (some of `LEVERS`).
    runs: folder of the per-seed outputs (`<runs>/<short>[_levers|_online]/<arm>`).
    results: folder of the results file and its plot.
    report: path of the results file (None: `<results>/dyna_<short>[_levers|_online]/
      README.md`, the study's folder); its PNG, `dyna_<short>[_levers|_online].png`, goes
      beside it.
    progress: show progress bars.
    backend, address, seeds_per_trial: as `tf_equirl.experiments.ppo_tables.PPOTablesConfig`.
    command: the command line written into the results file.
  """

  env: str = "CartPole-v1"
  part: str = "supervised"
  seeds: int = 32
  planning_ratios: Tuple[float, ...] = (1, 2, 4, 8)
  dyna_iterations: Tuple[int, ...] = (50,)
  models: Tuple[str, ...] = ("mlp", "gcnn")
  from_sweeps: Optional[Tuple[str, ...]] = None
  total_steps: Optional[int] = None
  model_epochs: Optional[int] = None
  horizon: int = 20
  checkpoints: Optional[Tuple[int, ...]] = None
  levers: Tuple[str, ...] = LEVERS
  runs: str = os.path.join("runs", "reproduce_dyna")
  results: str = "results"
  report: Optional[str] = None
  progress: bool = True
  backend: str = "local"
  address: Optional[str] = None
  seeds_per_trial: Optional[int] = 16
  command: str = "python -m launchers.reproduce_dyna"

  def __post_init__(self):
    if self.env not in DYNA_ENVS:
      raise ValueError(
        f"DynaTablesConfig.env must be one of {DYNA_ENVS}, received " f"{self.env!r}."
      )
    if self.part not in PARTS:
      raise ValueError(f"DynaTablesConfig.part must be one of {PARTS}, received " f"{self.part!r}.")
    for name in ("seeds", "horizon"):
      checks.positive_int("DynaTablesConfig", name, getattr(self, name))
    if self.checkpoints is not None:
      self.checkpoints = tuple(self.checkpoints)
      for step in self.checkpoints:
        checks.positive_int("DynaTablesConfig", "checkpoints", step)
    for name in ("total_steps", "model_epochs", "seeds_per_trial"):
      checks.positive_int("DynaTablesConfig", name, getattr(self, name), allow_none=True)
    check_backend("DynaTablesConfig", self.backend)
    if self.part != "online_grid" and len(self.dyna_iterations) != 1:
      raise ValueError(
        f"DynaTablesConfig: part={self.part!r} takes one dyna_iterations "
        f"value, received {tuple(self.dyna_iterations)}."
      )
    if self.part == "levers" and len(self.planning_ratios) != 1:
      raise ValueError(
        "DynaTablesConfig: part='levers' takes one planning ratio, received "
        f"{tuple(self.planning_ratios)}."
      )
    if self.from_sweeps and self.part != "online_grid":
      raise ValueError("DynaTablesConfig.from_sweeps is for part='online_grid'.")
    self.arms()  # an unknown world model or a bad ratio fails here, before any training

  @property
  def suffix(self) -> str:
    """`""`, `"_levers"` or `"_online"`: of the results file and the runs folder."""
    return {"supervised": "", "levers": "_levers", "online_grid": "_online"}[self.part]

  def arms(self) -> List[Arm]:
    """The arms of `part`, the model-free baseline first."""
    if self.part == "online_grid":
      return online_grid_arms(
        self.env,
        self.planning_ratios,
        self.dyna_iterations,
        self.models,
        self.total_steps,
        self.model_epochs,
      )
    if self.part == "supervised":
      return supervised_arms(
        self.env,
        self.planning_ratios,
        self.dyna_iterations[0],
        self.total_steps,
        world_models=self.models,
      )
    return lever_arms(
      self.env,
      self.planning_ratios[0],
      self.dyna_iterations[0],
      self.total_steps,
      models=self.models,
      horizon=self.horizon,
      model_epochs=self.model_epochs,
      levers=self.levers,
    )


def run(config: DynaTablesConfig) -> str:
  """Trains the arms of `config.part` (reusing finished runs, or reading the online grid from
  `config.from_sweeps`) and writes its results file (`config.report`) with its PNG; returns
  the markdown's path."""
  arms = config.arms()
  seeds = list(range(config.seeds))
  short = env_defaults(config.env).short_name
  if config.from_sweeps:
    arms, runs = grid_runs_from_sweeps(
      config.from_sweeps, arms[0], os.path.join(config.runs, short, "baseline"), seeds
    )
  else:
    runs = train_arms(
      arms,
      seeds,
      os.path.join(config.runs, f"{short}{config.suffix}"),
      progress=config.progress,
      backend=config.backend,
      address=config.address,
      seeds_per_trial=config.seeds_per_trial,
    )
  stem = f"dyna_{short}{config.suffix}"
  path = config.report or os.path.join(config.results, stem, "README.md")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  figure = os.path.join(os.path.dirname(path), f"{stem}.png")
  if config.part == "online_grid":
    return write_grid_report(path, config.env, arms, runs, seeds, config.command, figure)
  title = "Supervised-Dyna" if config.part == "supervised" else "Online Dyna: levers"
  return write_report(
    path,
    config.env,
    arms,
    runs,
    seeds,
    config.command,
    title,
    thesis=config.part == "supervised",
    figure=figure,
    checkpoints=config.checkpoints,
  )
