"""Does Equi-Dyna beat PPO? The controlled study: declared arms and comparisons, bounds, a
compute-matched baseline, return at fixed steps and steps to a return threshold.

Entry point: `run(ControlledDynaConfig(env="CartPole-v1")) -> str`, the path of the report.
`declaration(config)` is the study's pre-declaration: the arms, their budgets, the threshold
and every comparison with the family it is corrected in. `run` writes it into the report
before anything trains, and the finished report keeps it verbatim above the results, so a
reader can check that the tables answer the questions declared beforehand and no others.

The arms (`ARMS`) are online Dyna (thesis Alg. 2) against PPO on the same real steps:

* `ppo`: the model-free baseline, the same actor-critic and PPO settings, no planning;
* `ppo_matched`: PPO with as many gradient updates per real step as Dyna makes
  (`tf_equirl.agents.dyna.matched_ppo_config`), so that Dyna's extra updates are not its
  only advantage;
* `ppo_tuned`: PPO tuned with a sweep budget like the one Dyna's levers got (studies
  `dyna_*_levers`: 5 configurations x 16 seeds per world model): the grid of
  `tuning_learning_rates` x `tuning_epochs` (6 configurations by default), each trained on
  `tuning_seeds` seeds that are not study seeds (from `TUNING_SEED0`), and the configuration
  with the highest mean return at the last step trained again on the study's seeds
  (`tune_ppo`; the grid goes through `tf_equirl.sweeps`' checks, and with `backend="ray"` its
  runs are Ray Tune trials);
* `dyna_mlp`, `dyna_gcnn` (mean pooling, exactly equivariant), `dyna_gcnn_proximal` (the
  thesis' proximal pooling): Dyna with a learned world model;
* `dyna_mlp_outcome`, `dyna_gcnn_outcome`, `dyna_gcnn_proximal_outcome`: the same world
  models learning the reward and the termination too (`DynaConfig.learned_outcome`), where
  the three arms above apply the environment's rules to the predicted state (and, on Catch,
  the game's rule for the ball's last step);
* `dyna_true`: the upper bound, Dyna planning on the real environment as its model;
* `dyna_untrained`: the lower bound, Dyna planning on an MLP world model that keeps its
  random initial weights.

Two measures, each its own family for Holm's correction: the real-environment return at the
last step (the trailing mean of the last `window` curve points), and the real steps until
that trailing mean reaches `threshold` (`tf_equirl.results.steps_to_threshold`; a seed that
never reaches it is counted at the last step, which can only shrink a difference, and the
tables say how many seeds that touched).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import checks, results, stats
from tf_equirl.agents.dyna.config import DynaConfig, default_dyna_config
from tf_equirl.agents.dyna.matched import matched_ppo_config
from tf_equirl.agents.ppo.config import PPOConfig
from tf_equirl.experiments._arms import check_backend, train_arms
from tf_equirl.experiments._compare import PENDING
from tf_equirl.runner import Arm

__all__ = [
  "ARMS",
  "PENDING",
  "declare",
  "ControlledDynaConfig",
  "finding",
  "FINDING_PREFIX",
  "arms",
  "comparisons",
  "declaration",
  "run",
  "THRESHOLDS",
  "TUNING_SEED0",
  "Tuning",
  "tune_ppo",
  "tuning_arms",
  "tuning_grid",
  "tuning_seeds",
]

ARMS = (
  "ppo",
  "ppo_matched",
  "ppo_tuned",
  "dyna_mlp",
  "dyna_gcnn",
  "dyna_gcnn_proximal",
  "dyna_mlp_outcome",
  "dyna_gcnn_outcome",
  "dyna_gcnn_proximal_outcome",
  "dyna_true",
  "dyna_untrained",
)
"""Every arm of the study, in the order of its tables."""

_LEARNED = ("dyna_mlp", "dyna_gcnn", "dyna_gcnn_proximal")
_OUTCOME = "_outcome"  # suffix of the arms whose world model learns reward and termination
_WORLD_MODEL = {
  "dyna_mlp": "mlp",
  "dyna_gcnn": "gcnn",
  "dyna_gcnn_proximal": "gcnn_proximal",
  "dyna_true": "true",
  "dyna_untrained": "mlp",
}
_WORLD_MODEL.update({f"{arm}{_OUTCOME}": _WORLD_MODEL[arm] for arm in _LEARNED})

FINDING_PREFIX = "Finding: "
"""How the report's one-sentence answer (`finding`) starts; the README quotes that line."""

TUNING_SEED0 = 10_000
"""The first tuning seed of `ppo_tuned`'s sweep: tuning seeds never coincide with the study's
(0 .. seeds - 1), so the tuned configuration is not chosen on the seeds it is tested on."""

THRESHOLDS = {"CartPole-v1": 475.0, "Catch-v0": 0.8}
"""Default return thresholds of the steps-to-threshold measure: gymnasium's CartPole-v1
reward threshold, and 0.8 on Catch (nine catches in ten)."""


@dataclasses.dataclass
class ControlledDynaConfig:
  """The controlled Dyna-vs-PPO study on one environment.

  Attributes:
    env: `"CartPole-v1"` or `"Catch-v0"`.
    seeds: seeds per arm (seeds 0..seeds-1, the same seeds for every arm, so comparisons
      are paired).
    total_steps: real environment steps of every arm (None: the environment's PPO budget,
      500,000 on CartPole and 20,000 on Catch, as in the thesis).
    model_epochs: world-model epochs per Dyna iteration (None: the thesis', 100 on CartPole
      and 10 on Catch).
    planning_ratio: planned steps per real step of every Dyna arm.
    dyna_iterations: acting/planning alternations of every Dyna arm.
    threshold: the return of the steps-to-threshold measure (None: `THRESHOLDS[env]`).
    window: curve points of the trailing mean that must reach the threshold.
    tuning_learning_rates, tuning_epochs: `ppo_tuned`'s grid of PPO learning rates and
      epochs per iteration (every combination is a configuration).
    tuning_seeds: seeds per configuration of `ppo_tuned`'s sweep (`TUNING_SEED0` onwards).
    arms: the arms to train, a subset of `ARMS` (comparisons need both of their arms).
    runs: folder of the per-seed runs (finished ones are reused).
    results: folder of the report and its figure.
    report: the report's path (None: `<results>/README.md`).
    command: the command written into the report.
    progress: progress bars while training.
    backend: `"local"` or `"ray"` (`tf_equirl.experiments._arms`).
    address: Ray cluster address with `backend="ray"`.
    seeds_per_trial: seeds per Ray Tune trial with `backend="ray"` (None: all of an arm's).
  """

  env: str = "CartPole-v1"
  seeds: int = 32
  total_steps: Optional[int] = None
  model_epochs: Optional[int] = None
  planning_ratio: float = 1.0
  dyna_iterations: int = 50
  threshold: Optional[float] = None
  window: int = 5
  tuning_learning_rates: Tuple[float, ...] = (3.5e-4, 1e-3)
  tuning_epochs: Tuple[int, ...] = (4, 8, 16)
  tuning_seeds: int = 16
  arms: Tuple[str, ...] = ARMS
  runs: str = os.path.join("runs", "dyna_controlled")
  results: str = os.path.join("results", "dyna_controlled")
  report: Optional[str] = None
  command: str = ""
  progress: bool = True
  backend: str = "local"
  address: Optional[str] = None
  seeds_per_trial: Optional[int] = None

  def __post_init__(self):
    if self.env not in THRESHOLDS:
      raise ValueError(
        f"ControlledDynaConfig.env must be one of {tuple(THRESHOLDS)}, received {self.env!r}."
      )
    checks.positive_int("ControlledDynaConfig", "seeds", self.seeds)
    checks.positive_int("ControlledDynaConfig", "total_steps", self.total_steps, allow_none=True)
    checks.positive_int("ControlledDynaConfig", "model_epochs", self.model_epochs, allow_none=True)
    checks.positive_int("ControlledDynaConfig", "dyna_iterations", self.dyna_iterations)
    checks.positive_int("ControlledDynaConfig", "window", self.window)
    checks.positive_int("ControlledDynaConfig", "tuning_seeds", self.tuning_seeds)
    self.tuning_learning_rates = tuple(self.tuning_learning_rates)
    self.tuning_epochs = tuple(self.tuning_epochs)
    checks.positive_number("ControlledDynaConfig", "planning_ratio", self.planning_ratio)
    if self.threshold is not None and not np.isfinite(self.threshold):
      raise ValueError(
        f"ControlledDynaConfig.threshold must be a finite return or None, received "
        f"{self.threshold!r}."
      )
    self.arms = tuple(self.arms)
    unknown = [a for a in self.arms if a not in ARMS]
    if unknown or not self.arms or len(set(self.arms)) != len(self.arms):
      raise ValueError(
        f"ControlledDynaConfig.arms must be distinct names of {ARMS}, received {self.arms!r}."
      )
    check_backend("ControlledDynaConfig", self.backend)
    self.dyna_config("dyna_mlp")  # a budget Dyna cannot split fails here, before training
    if "ppo_tuned" in self.arms:
      tuning_grid(self)  # a grid PPOConfig rejects fails here, before training

  @property
  def return_threshold(self) -> float:
    return float(self.threshold if self.threshold is not None else THRESHOLDS[self.env])

  @property
  def report_path(self) -> str:
    return self.report or os.path.join(self.results, "README.md")

  def dyna_config(self, arm: str) -> DynaConfig:
    """The `DynaConfig` of Dyna arm `arm` (online mode, the study's budgets)."""
    ppo = {"total_steps": self.total_steps} if self.total_steps else {}
    return default_dyna_config(
      self.env,
      ppo_overrides=ppo,
      mode="online",
      world_model=_WORLD_MODEL[arm],
      planning_ratio=self.planning_ratio,
      dyna_iterations=self.dyna_iterations,
      model_epochs=None if arm == "dyna_true" else self.model_epochs,
      model_training=arm != "dyna_untrained",
      learned_outcome=arm.endswith(_OUTCOME),
    )


def _ppo_base(config: ControlledDynaConfig) -> PPOConfig:
  """The `ppo` arm's config: the Dyna arms' actor-critic and PPO settings on their real steps."""
  base = config.dyna_config("dyna_mlp")
  return dataclasses.replace(base.ppo, total_steps=base.total_real_steps)


def tuning_grid(config: ControlledDynaConfig) -> List[Dict[str, Any]]:
  """`ppo_tuned`'s configurations: every combination of `tuning_learning_rates` and
  `tuning_epochs`, checked against `PPOConfig` by `tf_equirl.sweeps.validate_space` (a value
  of the wrong type or out of range raises a `ValueError` naming the field)."""
  from tf_equirl import sweeps  # pylint: disable=import-outside-toplevel

  space = {
    "learning_rate": list(config.tuning_learning_rates),
    "num_epochs": list(config.tuning_epochs),
  }
  grid, _ = sweeps.validate_space(sweeps.get_algorithm("ppo"), _ppo_base(config), space)
  return sweeps.grid_points(grid)


def tuning_arms(config: ControlledDynaConfig) -> List[Arm]:
  """One `Arm` per configuration of `tuning_grid`, named `ppo <label>`."""
  from tf_equirl import sweeps  # pylint: disable=import-outside-toplevel

  base = _ppo_base(config)
  return [
    Arm(f"ppo {sweeps.label(point)}", "tuning", dataclasses.replace(base, **point))
    for point in tuning_grid(config)
  ]


def tuning_seeds(config: ControlledDynaConfig) -> List[int]:
  """The seeds of `ppo_tuned`'s sweep: `TUNING_SEED0` onwards."""
  return list(range(TUNING_SEED0, TUNING_SEED0 + config.tuning_seeds))


@dataclasses.dataclass(frozen=True)
class Tuning:
  """The outcome of `ppo_tuned`'s sweep.

  Attributes:
    chosen: the chosen configuration's fields (`learning_rate`, `num_epochs`).
    rows: `(label, mean, 2 SE)` of each configuration's return at the last step over the
      tuning seeds, in the grid's order.
  """

  chosen: Dict[str, Any]
  rows: Tuple[Tuple[str, float, float], ...]


def tune_ppo(config: ControlledDynaConfig) -> Tuning:
  """Trains every configuration of `tuning_grid` on `tuning_seeds` (in `<runs>/ppo_tuning`,
  finished runs reused; `backend="ray"`: as Ray Tune trials) and chooses the one with the
  highest mean return at the last step (the study's first measure; the first of the grid on
  a tie)."""
  candidates = tuning_arms(config)
  runs = train_arms(
    candidates,
    tuning_seeds(config),
    os.path.join(config.runs, "ppo_tuning"),
    progress=config.progress,
    backend=config.backend,
    address=config.address,
    seeds_per_trial=config.seeds_per_trial,
  )
  rows = []
  for arm in candidates:
    curves = np.asarray(runs[arm.name][1], dtype=np.float64)
    mean, two_se = results.mean_and_2se(results.moving_average(curves, config.window)[:, -1])
    rows.append((arm.name[len("ppo ") :], float(mean), float(two_se)))
  best = int(np.argmax([row[1] for row in rows]))
  return Tuning(chosen=tuning_grid(config)[best], rows=tuple(rows))


def arms(config: ControlledDynaConfig, tuned: Optional[Dict[str, Any]] = None) -> List[Arm]:
  """The `Arm`s of `config.arms`, every one on the Dyna arms' real steps; `tuned` is
  `tune_ppo`'s chosen configuration, required with the `ppo_tuned` arm.

  Raises:
    ValueError: `ppo_tuned` is an arm and `tuned` is None.
  """
  base = config.dyna_config("dyna_mlp")
  out = []
  for name in config.arms:
    if name == "ppo":
      out.append(Arm(name, "baseline", _ppo_base(config)))
    elif name == "ppo_tuned":
      if tuned is None:
        raise ValueError(
          "dyna_controlled.arms: the ppo_tuned arm needs the tuned configuration "
          "(tune_ppo(config).chosen), received tuned=None."
        )
      out.append(Arm(name, "baseline", dataclasses.replace(_ppo_base(config), **tuned)))
    elif name == "ppo_matched":
      out.append(Arm(name, "baseline", matched_ppo_config(base).config))
    else:
      out.append(Arm(name, name, config.dyna_config(name), config.planning_ratio))
  return out


def comparisons(config: ControlledDynaConfig) -> List[Tuple[str, str]]:
  """The declared comparisons `(a, b)`, read as `a - b`, among `config.arms`:

  1. each learned-model Dyna against the compute-matched PPO, against PPO and against the
     tuned PPO;
  2. each equivariant world model against the MLP world model;
  3. the bounds: the true model against the compute-matched PPO (can planning help at all
     here?) and each learned model against the untrained one (does learning the model
     matter?);
  4. each world model that learns the reward and termination against the compute-matched
     PPO, and against the same world model planning with the environment's rules.
  """
  pairs = []
  for dyna in _LEARNED:
    pairs += [(dyna, "ppo_matched"), (dyna, "ppo"), (dyna, "ppo_tuned")]
  pairs += [("dyna_gcnn", "dyna_mlp"), ("dyna_gcnn_proximal", "dyna_mlp")]
  pairs += [("dyna_true", "ppo_matched")]
  pairs += [(dyna, "dyna_untrained") for dyna in _LEARNED]
  pairs += [(f"{dyna}{_OUTCOME}", "ppo_matched") for dyna in _LEARNED]
  pairs += [(f"{dyna}{_OUTCOME}", dyna) for dyna in _LEARNED]
  present = set(config.arms)
  return [(a, b) for a, b in pairs if a in present and b in present]


def _group(a: str, b: str) -> str:
  """The group of comparison `a - b` in the declaration and the finding: its baseline, or
  `"rules"` for a world model that learns the outcome against the same one with the rules."""
  return "rules" if a == f"{b}{_OUTCOME}" else b


def _tuning_lines(config: ControlledDynaConfig) -> List[str]:
  if "ppo_tuned" not in config.arms:
    return []
  grid = tuning_grid(config)
  seeds = tuning_seeds(config)
  return [
    f"- Tuned PPO: {len(grid)} configurations (learning rate "
    f"{', '.join(f'{v:g}' for v in config.tuning_learning_rates)} x epochs per iteration "
    f"{', '.join(str(v) for v in config.tuning_epochs)}) x {len(seeds)} tuning seeds "
    f"({seeds[0]}-{seeds[-1]}, none of them a study seed); the configuration with the highest "
    "mean return at the last step is trained again on the study's seeds. Dyna's levers got "
    "5 configurations x 16 seeds per world model (studies `dyna_*_levers`)."
  ]


def declaration(config: ControlledDynaConfig) -> str:
  """The study's pre-declaration, as markdown: arms, budgets, measures, comparisons."""
  base = config.dyna_config("dyna_mlp")
  matched = matched_ppo_config(base)
  lines = [
    "## Declaration\n",
    "Written before any arm trains; the results below answer these comparisons and no " "others.\n",
    f"- Environment: {config.env}; seeds 0-{config.seeds - 1} for every arm (paired).",
    f"- Real steps per arm: {base.total_real_steps:,}; Dyna: online, planning ratio "
    f"{config.planning_ratio:g}, {config.dyna_iterations} Dyna iterations, "
    f"{base.epochs} model epochs per Dyna iteration.",
    f"- Compute-matched PPO: {matched.ppo_updates:,} gradient updates against Dyna's "
    f"{matched.dyna_updates:,} ({matched.relative_error:+.1%}); num_epochs "
    f"{matched.config.num_epochs}, num_minibatches {matched.config.num_minibatches}.",
    f"- Measures: (1) the return at {base.total_real_steps:,} real steps (the trailing mean "
    f"of the last {config.window} curve points); (2) real steps until that trailing mean "
    f"reaches {config.return_threshold:g} (a seed that never does counts at the last step).",
    "- Statistics: `tf_equirl.stats.compare`, paired over seeds, percentile-bootstrap 95 % "
    "intervals, Holm's correction within each measure's family.",
    *_tuning_lines(config),
    f"- Arms: {', '.join(config.arms)}. The `{_OUTCOME[1:]}` arms' world models learn the "
    "reward and the termination from the real transitions; the other learned models plan "
    "with the environment's rules (`tf_equirl.agents.dyna.world`).",
    "- Not covered here: the planning-ratio x Dyna-iteration grid (studies "
    "`dyna_*_online`) and the thesis' supervised settings (studies `dyna_cartpole`, "
    "`dyna_catch`).",
    "",
    "| comparison | question |",
    "|---|---|",
  ]
  questions = {
    "ppo_matched": "does the Dyna agent beat PPO given the same number of updates?",
    "ppo": "does it beat PPO with its own settings?",
    "ppo_tuned": "does it beat PPO tuned with a sweep budget like its levers'?",
    "dyna_mlp": "does an equivariant world model beat the MLP one?",
    "dyna_untrained": "does learning the world model matter (against the lower bound)?",
    "rules": "does learning the reward and termination, instead of applying the "
    "environment's rules, change the result?",
  }
  for a, b in comparisons(config):
    question = questions[_group(a, b)]
    if a == "dyna_true":
      question = "can planning on a perfect model beat compute-matched PPO (upper bound)?"
    lines.append(f"| {a} - {b} | {question} |")
  return "\n".join(lines) + "\n"


_GROUPS = (
  ("ppo_matched", "against PPO given the same number of gradient updates"),
  ("ppo", "against PPO with its own settings"),
  ("ppo_tuned", "against PPO tuned with a sweep"),
  ("dyna_mlp", "against the MLP world model"),
  ("dyna_untrained", "against the untrained-model lower bound"),
  ("rules", "learning the reward and termination against the environment's rules"),
)


def _tally(readings: Sequence[str]) -> str:
  counts = {word: readings.count(word) for word in ("beats", "level with", "trails")}
  names = {"beats": "ahead", "level with": "level", "trails": "behind"}
  parts = [f"{names[word]} in {n}" for word, n in counts.items() if n]
  listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
  return f"{listed} of {len(readings)}"


def finding(
  config: ControlledDynaConfig,
  final: Sequence[stats.Difference],
  reach: Sequence[stats.Difference],
  alpha: float = 0.05,
) -> str:
  """The study's answer in one sentence, computed from the declared comparisons' readings
  (`tf_equirl.stats.verdict` under Holm's correction, both measures): for each baseline, in
  how many of its comparisons the Dyna arms are ahead, level or behind. Nothing in it is
  worded by hand, so the sentence cannot claim more than the tables show.

  Args:
    config: the study.
    final: the comparisons of the return at the last step (`stats.compare`, same order as
      `comparisons(config)`).
    reach: the comparisons of the steps to the threshold (fewer is better).
    alpha: the family-wise error rate of the readings.

  Returns:
    One markdown sentence.
  """
  if len(final) != len(reach):
    raise ValueError(
      f"finding: final and reach must hold the same comparisons, received {len(final)} and "
      f"{len(reach)}."
    )
  parts = []
  for group, words in _GROUPS:
    readings = [stats.verdict(d, alpha) for d in final if _group(d.a, d.b) == group]
    readings += [
      stats.verdict(d, alpha, lower_is_better=True) for d in reach if _group(d.a, d.b) == group
    ]
    if readings:
      arms_of = sorted({d.a for d in final if _group(d.a, d.b) == group})
      parts.append(f"{words} ({', '.join(arms_of)}), {_tally(readings)}")
  if not parts:
    return ""
  steps = config.dyna_config("dyna_mlp").total_real_steps
  return (
    f"On {config.env} ({config.seeds} seeds, {steps:,} real steps), counting the declared "
    "comparisons of both measures (return at the last step, steps to "
    f"{config.return_threshold:g}) after Holm's correction, the Dyna arms are ahead, level "
    "or behind as follows: " + "; ".join(parts) + "."
  )


def _tuning_table(config: ControlledDynaConfig, tuning: Tuning) -> str:
  from tf_equirl import sweeps  # pylint: disable=import-outside-toplevel

  chosen = sweeps.label(tuning.chosen)
  lines = [
    f"PPO tuning ({config.tuning_seeds} tuning seeds per configuration; return at the last "
    "step, mean +- 2 SE):\n",
    "| configuration | return at the last step | chosen |",
    "|---|---|---|",
  ]
  for label, mean, two_se in tuning.rows:
    lines.append(f"| {label} | {mean:.3g} +- {two_se:.2g} | {'yes' if label == chosen else ''} |")
  return "\n".join(lines) + "\n"


def _write(path: str, text: str) -> None:
  """Writes `text` into the report at `path`, keeping its hand-written notes."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  notes = results.kept_notes(path)
  with open(path, "w", encoding="utf-8") as f:
    f.write(text + notes)


def _heading(config: ControlledDynaConfig) -> str:
  command = f"Command: `{config.command}`\n" if config.command else ""
  return f"# Controlled study: Dyna against PPO on {config.env}\n\n{command}"


def _table(
  name: str, diffs: Sequence[stats.Difference], what: str, lower_is_better: bool = False
) -> str:
  table = stats.markdown_differences(diffs, lower_is_better=lower_is_better)
  rule = stats.RULE
  if lower_is_better:
    rule += " Here fewer steps are better: A beats B when its difference is negative."
  return f"### {name}\n\n{what}\n\n{table}\nReading: {rule}\n"


def declare(config: ControlledDynaConfig) -> str:
  """Writes the report's heading, `declaration(config)` and `PENDING` (nothing trains);
  returns the report's path. `run` starts with it."""
  path = config.report_path
  _write(path, _heading(config) + "\n" + declaration(config) + "\n" + PENDING + "\n")
  return path


def run(config: ControlledDynaConfig) -> str:
  """Writes the declaration, trains every arm (reusing finished runs) and writes the report:
  the declaration, each arm's return and steps to the threshold, the two families of
  comparisons and the curves. Returns the report's path."""
  path = declare(config)
  declared = declaration(config)
  tuning = tune_ppo(config) if "ppo_tuned" in config.arms else None
  study_arms = arms(config, None if tuning is None else tuning.chosen)
  seeds = list(range(config.seeds))
  runs = train_arms(
    study_arms,
    seeds,
    config.runs,
    progress=config.progress,
    backend=config.backend,
    address=config.address,
    seeds_per_trial=config.seeds_per_trial,
  )
  final: Dict[str, np.ndarray] = {}
  reach: Dict[str, np.ndarray] = {}
  last_steps = []
  for arm in study_arms:
    env_steps, curves = runs[arm.name][0], np.asarray(runs[arm.name][1], dtype=np.float64)
    final[arm.name] = results.moving_average(curves, config.window)[:, -1]
    reach[arm.name] = results.steps_to_threshold(
      env_steps, curves, config.return_threshold, window=config.window
    )
    last_steps.append(float(env_steps[-1]))
  last_step = min(last_steps)
  lines = [_heading(config), declared, "## Results\n"]
  if tuning is not None:
    lines += [_tuning_table(config, tuning), ""]
  lines += [
    f"| arm | return at the last step (mean +- 2 SE) | steps to {config.return_threshold:g} "
    "(mean +- 2 SE, censored at the last step) | seeds that never reached it |",
    "|---|---|---|---|",
  ]
  for arm in study_arms:
    ret = results.mean_and_2se(final[arm.name])
    censored = np.where(np.isinf(reach[arm.name]), last_step, reach[arm.name])
    to_reach = results.mean_and_2se(censored)
    never = int(np.sum(np.isinf(reach[arm.name])))
    lines.append(
      f"| {arm.name} | {ret[0]:.3g} +- {ret[1]:.2g} | {to_reach[0]:,.0f} +- {to_reach[1]:,.0f} | "
      f"{never} of {len(censored)} |"
    )
  pairs = comparisons(config)
  if pairs:
    seed_map = {name: seeds[: len(v)] for name, v in final.items()}
    final_diffs = stats.compare(final, pairs, seeds=seed_map)
    reach_diffs = stats.compare(reach, pairs, seeds=seed_map, censored_at=last_step)
    lines.append("\n## Finding\n")
    lines.append(FINDING_PREFIX + finding(config, final_diffs, reach_diffs) + "\n")
    lines.append("## Comparisons\n")
    lines.append(
      _table(
        "Return at the last step",
        final_diffs,
        "Difference of mean returns (a - b; positive: a is better).",
      )
    )
    lines.append(
      _table(
        f"Steps to a return of {config.return_threshold:g}",
        reach_diffs,
        "Difference of mean real steps (a - b; negative: a is faster).",
        lower_is_better=True,
      )
    )
  png = os.path.splitext(path)[0] + ".png"
  steps = runs[study_arms[0].name][0]
  same = [a.name for a in study_arms if np.array_equal(runs[a.name][0], steps)]
  results.plot_curves(  # every arm acts on the same real-step grid; others are left out
    png,
    {name: runs[name][1] for name in same},
    steps,
    title=f"{config.env}: Dyna against PPO, {config.seeds} seeds",
  )
  lines.append(f"\n![curves]({os.path.basename(png)})\n")
  _write(path, "\n".join(lines))
  return path
