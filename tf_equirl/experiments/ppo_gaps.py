"""Why some PPO numbers differ from the thesis' Tables 4.2 (CartPole) and 4.4 (Catch): one
hypothesis at a time, each a set of PPO arms against the arm it changes one thing of.

Entry point: `run(PPOGapsConfig(env="Catch-v0", seeds=32)) -> str`, the path of the report,
which `launchers/reproduce_ppo_gaps.py` and the registry's `ppo_gaps_catch` and
`ppo_gaps_cartpole` call. Every arm is the thesis' settings for the environment
(`tf_equirl.agents.ppo.default_config`) with a few fields changed (`GapArm`); a hypothesis
(`Hypothesis`) names the pairs it compares, and the report prints, per hypothesis, the arms'
returns at the thesis' checkpoints beside the thesis' numbers and the pairs' differences
(`tf_equirl.stats.compare`, paired over the seeds, Holm's correction within the
hypothesis, worded by `tf_equirl.stats.RULE`). The readings hypothesis also reads the
thesis-setting runs the five ways of `tf_equirl.results.READINGS`.

The arms and hypotheses are declared here (`ARMS`, `HYPOTHESES`) so that the study is one
command; the report's words on each hypothesis are the question it asks, never its answer.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import checks, results
from tf_equirl.agents.ppo.config import default_config
from tf_equirl.experiments._arms import check_backend, train_arms
from tf_equirl.experiments._compare import at_step, checkpoint_label, comparisons_section
from tf_equirl.experiments.ppo_tables import THESIS, THESIS_TABLE, parse_network
from tf_equirl.runner import Arm, arm_folder, default_checkpoints

__all__ = [
  "GapArm",
  "Hypothesis",
  "ARMS",
  "HYPOTHESES",
  "PPOGapsConfig",
  "hypotheses_of",
  "arms_of",
  "run",
  "write_report",
]

ENVS = ("CartPole-v1", "Catch-v0")


@dataclasses.dataclass(frozen=True)
class GapArm:
  """One PPO configuration of the study.

  Attributes:
    name: the arm's name (its column and runs folder).
    network: a network spec of `tf_equirl.experiments.ppo_tables.parse_network`
      (`"gcnn"`, `"mlp"`, `"gcnn:invariant"`).
    preset: named settings of `tf_equirl.agents.ppo.PRESETS` applied before `changes`.
    changes: `PPOConfig` fields changed from the thesis' settings, as `(field, value)` pairs.
  """

  name: str
  network: str
  changes: Tuple[Tuple[str, Any], ...] = ()
  preset: Optional[str] = None

  def config(self, env: str, total_steps: Optional[int] = None):
    """The arm's `PPOConfig` for `env` (`total_steps` replaces the run's length)."""
    actor, group, critic = parse_network(self.network)
    fields: Dict[str, Any] = dict(self.changes, network=actor, critic=critic)
    if group is not None:
      fields["group"] = group
    if total_steps is not None:
      fields["total_steps"] = total_steps
    return default_config(env, preset=self.preset, **fields)

  def settings(self) -> str:
    """What the arm changes, in words for the report (`-` for the thesis' settings)."""
    parts = [f"preset {self.preset}"] if self.preset else []
    parts += [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.changes]
    return ", ".join(parts) or "-"


@dataclasses.dataclass(frozen=True)
class Hypothesis:
  """A question about the gap to the thesis and the comparisons that answer it.

  Attributes:
    key: its short name (`--hypotheses` and the report's section).
    env: the environment it runs on.
    title: the section's heading.
    question: what it tests, in words (no figures).
    pairs: `(arm, reference)` pairs, each read as arm - reference at every checkpoint; one
      family for Holm's correction.
    readings: also read the reference arms of `pairs` the ways of `tf_equirl.results.READINGS`.
  """

  key: str
  env: str
  title: str
  question: str
  pairs: Tuple[Tuple[str, str], ...]
  readings: bool = False

  @property
  def arms(self) -> Tuple[str, ...]:
    """Its arms, each once, in the order the pairs name them (references first)."""
    out: List[str] = []
    for a, b in self.pairs:
      for name in (b, a):
        if name not in out:
          out.append(name)
    return tuple(out)


def _arm(name: str, network: str, preset: Optional[str] = None, **changes: Any) -> GapArm:
  return GapArm(name, network, tuple(changes.items()), preset)


_B = dict(learning_rate=1.5e-3, num_epochs=8, ent_coef=0.0)  # (h)'s base: the best of (c)
_N = dict(learning_rate=1e-3, ent_coef=0.0, num_steps=64, num_minibatches=25)

ARMS: Dict[str, Dict[str, GapArm]] = {
  "Catch-v0": {
    a.name: a
    for a in [
      _arm("mlp", "mlp"),
      _arm("gcnn", "gcnn"),
      # (a) the hidden layer
      _arm("siamese", "gcnn", hidden="siamese"),
      _arm("s_lr1e3", "gcnn", hidden="siamese", learning_rate=1e-3),
      _arm("s_lr25e3", "gcnn", hidden="siamese", learning_rate=2.5e-3),
      # (c) step size, minibatches, epochs
      _arm("g_mb4", "gcnn", num_minibatches=4),
      _arm("g_mb8", "gcnn", num_minibatches=8),
      _arm("g_mb128", "gcnn", num_minibatches=128),
      _arm("m_mb128", "mlp", num_minibatches=128),
      _arm("g_lr1e3", "gcnn", learning_rate=1e-3),
      _arm("g_lr25e3", "gcnn", learning_rate=2.5e-3),
      _arm("g_lr5e3", "gcnn", learning_rate=5e-3),
      _arm("g_lr25e3_noanneal", "gcnn", learning_rate=2.5e-3, anneal_lr=False),
      _arm("g_lr25e3_ep8", "gcnn", learning_rate=2.5e-3, num_epochs=8),
      _arm("g_lr25e3_ent0", "gcnn", learning_rate=2.5e-3, ent_coef=0.0),
      _arm("g_lr1e3_noanneal", "gcnn", learning_rate=1e-3, anneal_lr=False),
      _arm("g_lr1e3_ep8", "gcnn", learning_rate=1e-3, num_epochs=8),
      _arm("g_lr25e3_ep8_ent0", "gcnn", learning_rate=2.5e-3, num_epochs=8, ent_coef=0.0),
      _arm("g_lr1e3_ep8_ent0", "gcnn", learning_rate=1e-3, num_epochs=8, ent_coef=0.0),
      _arm("g_lr1e3_ep16", "gcnn", learning_rate=1e-3, num_epochs=16),
      _arm("g_lr15e3_ep8_ent0", "gcnn", **_B),
      _arm("m_lr1e3", "mlp", learning_rate=1e-3),
      _arm("m_lr25e3", "mlp", learning_rate=2.5e-3),
      _arm("m_lr5e3", "mlp", learning_rate=5e-3),
      _arm("m_lr25e3_ent0", "mlp", learning_rate=2.5e-3, ent_coef=0.0),
      # (b) width
      _arm("g_w24", "gcnn", width=24),
      _arm("g_w128", "gcnn", width=128),
      # (g) short rollouts
      _arm("g_ns10", "gcnn", num_steps=10, num_minibatches=4),
      _arm("m_ns10", "mlp", num_steps=10, num_minibatches=4),
      # (f) the critic
      _arm("gi_lr25e3", "gcnn:invariant", learning_rate=2.5e-3),
      # (h) updating more often, one lever at a time from B and from N
      _arm("b_clip3", "gcnn", **_B, clip_eps=0.3),
      _arm("b_lam08", "gcnn", **_B, gae_lambda=0.8),
      _arm("b_lam1", "gcnn", **_B, gae_lambda=1.0),
      _arm("b_ns64", "gcnn", **_B, num_steps=64, num_minibatches=25),
      _arm("n64", "gcnn", **_N),
      _arm("n64_lr7e4", "gcnn", **dict(_N, learning_rate=7e-4)),
      _arm("n64_ent", "gcnn", **{k: v for k, v in _N.items() if k != "ent_coef"}),  # bonus kept
      _arm("n32", "gcnn", **dict(_N, num_steps=32, num_minibatches=12)),
      _arm("n32_lr5e4", "gcnn", **dict(_N, num_steps=32, num_minibatches=12, learning_rate=5e-4)),
      _arm("n_env8", "gcnn", **dict(_N, num_envs=8, num_steps=32)),
      _arm("n_lam07", "gcnn", **_N, gae_lambda=0.7),
      _arm("n_lam09", "gcnn", **_N, gae_lambda=0.9),
      _arm("n_inv", "gcnn:invariant", **_N),
      _arm("n_advbatch", "gcnn", **_N, advantage_normalization="batch"),
      _arm("n_grad5", "gcnn", **_N, max_grad_norm=5.0),
      _arm("n_vf1", "gcnn", **_N, vf_coef=1.0),
      _arm("n_w98", "gcnn", **_N, width=98),
      # N with GAE lambda 0.8
      _arm("frequent_updates", "gcnn", preset="frequent_updates"),
      _arm("m_frequent_updates", "mlp", preset="frequent_updates"),
    ]
  },
  "CartPole-v1": {
    a.name: a
    for a in [
      _arm("mlp", "mlp"),
      _arm("symmetrizer", "symmetrizer"),
      _arm("gcnn", "gcnn"),
      _arm("mlp_pjx", "mlp", preset="purejaxrl_step"),
      _arm("symmetrizer_pjx", "symmetrizer", preset="purejaxrl_step"),
      _arm("gcnn_pjx", "gcnn", preset="purejaxrl_step"),
    ]
  },
}
"""Every arm of the study, per environment."""

_G = "gcnn"
_M = "mlp"

HYPOTHESES: Tuple[Hypothesis, ...] = (
  Hypothesis(
    "readings",
    "Catch-v0",
    "(d) How the thesis reads its curves",
    "The thesis' settings, read five ways: does a smoothed reading, a step axis counted per "
    "environment or the mean of the finishing episodes move our numbers onto the thesis'?",
    ((_G, _M),),
    readings=True,
  ),
  Hypothesis(
    "hidden",
    "Catch-v0",
    "(a) The hidden layer: Siamese (a shared Dense, no mixing) against the permutation layer",
    "The Siamese form (`hidden=siamese`, eq. 4.15 allows it as well) has the MLP's parameter "
    "count; is it what the thesis' G-CNN was, at three step sizes?",
    (("siamese", _G), ("s_lr1e3", "g_lr1e3"), ("s_lr25e3", "g_lr25e3")),
  ),
  Hypothesis(
    "step",
    "Catch-v0",
    "(c) Step size, minibatches, epochs",
    "One optimiser setting at a time against the thesis' printed ones (Adam 3.5e-4, 4 epochs, "
    "minibatches of 10, entropy bonus 0.01, annealed step), for the G-CNN and the MLP; and the "
    "G-CNN against the MLP at each step size.",
    tuple(
      (name, _G)
      for name in (
        "g_mb4",
        "g_mb8",
        "g_mb128",
        "g_lr1e3",
        "g_lr25e3",
        "g_lr5e3",
        "g_lr25e3_noanneal",
        "g_lr25e3_ep8",
        "g_lr25e3_ent0",
        "g_lr1e3_noanneal",
        "g_lr1e3_ep8",
        "g_lr25e3_ep8_ent0",
        "g_lr1e3_ep8_ent0",
        "g_lr1e3_ep16",
        "g_lr15e3_ep8_ent0",
      )
    )
    + tuple((name, _M) for name in ("m_mb128", "m_lr1e3", "m_lr25e3", "m_lr5e3", "m_lr25e3_ent0"))
    + (("g_lr1e3", "m_lr1e3"), ("g_lr25e3", "m_lr25e3"), ("g_lr5e3", "m_lr5e3")),
  ),
  Hypothesis(
    "width",
    "Catch-v0",
    "(b) Width",
    "Does capacity explain it: the G-CNN at half and at about 2.6 times its width (the "
    "default matches the MLP's parameter count)?",
    (("g_w24", _G), ("g_w128", _G)),
  ),
  Hypothesis(
    "rollouts",
    "Catch-v0",
    "(g) Short rollouts",
    "Read 'minibatch size 10' as 10-step rollouts in 4 minibatches (PureJaxRL cannot make "
    "minibatches of 10 from the thesis' 4 x 128 transitions).",
    (("g_ns10", _G), ("m_ns10", _M)),
  ),
  Hypothesis(
    "critic",
    "Catch-v0",
    "(f) The critic",
    "The G-CNN with an invariant critic against the MLP critic, at the larger step.",
    (("gi_lr25e3", "g_lr25e3"),),
  ),
  Hypothesis(
    "updates",
    "Catch-v0",
    "(h) Updating more often",
    "From B (`g_lr15e3_ep8_ent0`, Adam 1.5e-3, 8 epochs, no entropy bonus) one lever at a "
    "time; then from N (`n64`: 64-step rollouts, 25 minibatches, Adam 1e-3, 4 epochs, no "
    "entropy bonus) one lever at a time; then the `frequent_updates` preset (N with GAE "
    "lambda 0.8) against N and for both networks.",
    tuple((name, "g_lr15e3_ep8_ent0") for name in ("b_clip3", "b_lam08", "b_lam1", "b_ns64", "n64"))
    + tuple(
      (name, "n64")
      for name in (
        "n64_lr7e4",
        "n64_ent",
        "n32",
        "n32_lr5e4",
        "n_env8",
        "n_lam07",
        "frequent_updates",
        "n_lam09",
        "n_inv",
        "n_advbatch",
        "n_grad5",
        "n_vf1",
        "n_w98",
      )
    )
    + (
      ("frequent_updates", _G),
      ("m_frequent_updates", _M),
      ("frequent_updates", "m_frequent_updates"),
    ),
  ),
  Hypothesis(
    "readings",
    "CartPole-v1",
    "(d) How the thesis reads its curves",
    "The thesis' settings, read five ways: does a smoothed reading, a step axis counted per "
    "environment or the mean of the finishing episodes move our numbers onto the thesis'?",
    ((_G, _M), ("symmetrizer", _M)),
    readings=True,
  ),
  Hypothesis(
    "step",
    "CartPole-v1",
    "PureJaxRL's step size",
    "PureJaxRL's own Adam step and epsilon (2.5e-4, 1e-5; the `purejaxrl_step` preset) "
    "against the 3.5e-4 the thesis' Table 5.1 prints, for each network; and each network "
    "against the MLP at that step.",
    (
      ("mlp_pjx", _M),
      ("symmetrizer_pjx", "symmetrizer"),
      ("gcnn_pjx", _G),
      ("gcnn_pjx", "mlp_pjx"),
      ("symmetrizer_pjx", "mlp_pjx"),
    ),
  ),
)
"""Every hypothesis, in the report's order."""


def hypotheses_of(env: str, keys: Optional[Sequence[str]] = None) -> List[Hypothesis]:
  """The hypotheses of `env` (those named by `keys`, in `HYPOTHESES`' order).

  Raises:
    ValueError: `env` has no hypotheses, or a key is not one of its.
  """
  if env not in ARMS:
    raise ValueError(f"The PPO gap study runs on {sorted(ARMS)}, received env={env!r}.")
  own = [h for h in HYPOTHESES if h.env == env]
  if keys is None:
    return own
  known = [h.key for h in own]
  unknown = [k for k in keys if k not in known]
  if unknown or not keys:
    raise ValueError(
      f"PPOGapsConfig.hypotheses for {env} must be a non-empty selection of {known}, "
      f"received {list(keys)!r}."
    )
  return [h for h in own if h.key in keys]


def arms_of(
  env: str, hypotheses: Sequence[Hypothesis], total_steps: Optional[int] = None
) -> List[Arm]:
  """The `tf_equirl.runner.Arm`s that `hypotheses` need, each once."""
  names: List[str] = []
  for h in hypotheses:
    names += [n for n in h.arms if n not in names]
  table = ARMS[env]
  return [
    Arm(n, parse_network(table[n].network)[0], table[n].config(env, total_steps)) for n in names
  ]


@dataclasses.dataclass
class PPOGapsConfig:
  """What `run` trains and where it writes.

  Attributes:
    env: "Catch-v0" or "CartPole-v1".
    seeds: seeds per arm, 0..N-1 (every arm runs the same seeds, so pairs are paired).
    hypotheses: keys of the hypotheses to run (None: all of `env`'s).
    total_steps: environment steps per seed (None: the thesis').
    checkpoints: environment steps of the tables' rows (None: the thesis' checkpoints).
    runs: folder of the per-seed outputs (`<runs>/<env>/<arm>`).
    results: folder of the report.
    report: the report's path (None: `<results>/ppo_gaps_<short>/README.md`).
    resume: reuse an arm's finished runs.
    progress: show progress bars.
    backend, address, seeds_per_trial: as `tf_equirl.experiments.ppo_tables.PPOTablesConfig`.
    isolate: train each arm in a process of its own (`tf_equirl.experiments._arms.
      train_arms`): XLA keeps every compiled program for the life of a process, and the
      study has dozens of arms.
    command: the command line written into the report.
  """

  env: str = "Catch-v0"
  seeds: int = 32
  hypotheses: Optional[Tuple[str, ...]] = None
  total_steps: Optional[int] = None
  checkpoints: Optional[Tuple[int, ...]] = None
  runs: str = os.path.join("runs", "ppo_gaps")
  results: str = "results"
  report: Optional[str] = None
  resume: bool = True
  progress: bool = True
  backend: str = "local"
  address: Optional[str] = None
  seeds_per_trial: Optional[int] = 16
  isolate: bool = True
  command: str = "python -m launchers.reproduce_ppo_gaps"

  def __post_init__(self):
    checks.positive_int("PPOGapsConfig", "seeds", self.seeds)
    checks.positive_int("PPOGapsConfig", "total_steps", self.total_steps, allow_none=True)
    if self.seeds < 2:
      raise ValueError(
        f"PPOGapsConfig.seeds must be at least 2 (the comparisons are paired over seeds), "
        f"received {self.seeds}."
      )
    if self.hypotheses is not None:
      self.hypotheses = tuple(self.hypotheses)
    hypotheses_of(self.env, self.hypotheses)
    check_backend("PPOGapsConfig", self.backend)

  def chosen(self) -> List[Hypothesis]:
    return hypotheses_of(self.env, self.hypotheses)

  def arms(self) -> List[Arm]:
    return arms_of(self.env, self.chosen(), self.total_steps)


def _readings_table(
  folders: Mapping[str, str],
  seeds: Sequence[int],
  checkpoints: Sequence[int],
  num_envs: int,
) -> str:
  """Each arm's runs (its folder's `seed_<k>.csv`) read the ways of `results.READINGS`."""
  names = list(folders)
  header = " | ".join(f"{n} {c:,}" for n in names for c in checkpoints)
  lines = [f"| reading | {header} |", "|---|" + "---|" * (len(names) * len(checkpoints))]
  columns = {
    n: [results.read_seed_csv(os.path.join(folders[n], f"seed_{s}.csv")) for s in seeds]
    for n in names
  }
  for reading, words in results.READINGS.items():
    cells = []
    for n in names:
      for row in results.read_curves(columns[n], checkpoints, num_envs, reading):
        if not np.isfinite(row["mean"]):
          cells.append("(past the run)")
        else:
          cells.append(results.format_mean(row["mean"], row["two_se"]))
    lines.append(f"| {reading}: {words} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def write_report(
  path: str,
  config: PPOGapsConfig,
  arms: Sequence[Arm],
  runs: Mapping[str, tuple],
  runs_dir: str,
) -> str:
  """Writes the report of `config`'s hypotheses from `runs` (`{arm: (env_steps, curves,
  parameter_counts)}`); keeps its hand-written Notes."""
  env = config.env
  seeds = list(range(config.seeds))
  steps = runs[arms[0].name][0]
  checkpoints = tuple(config.checkpoints or default_checkpoints(env) or (int(steps[-1]),))
  per_iteration = {a.name: int(runs[a.name][0][0]) for a in arms}
  last = {a.name: int(runs[a.name][0][-1]) for a in arms}
  checkpoints = tuple(
    c for c in checkpoints if all(c < last[n] + per_iteration[n] for n in last)
  ) or (min(last.values()),)
  table = ARMS[env]
  thesis = THESIS.get(env, {})
  thesis_steps = default_checkpoints(env) or ()
  notes = results.kept_notes(path)
  lines = [
    f"# Why some PPO numbers differ from the thesis on {env}\n",
    f"Command: `{config.command.strip()}`\n",
    f"One hypothesis at a time, each a set of PPO arms: the thesis' settings "
    f"(`tf_equirl.agents.ppo.default_config`) with the fields of the *settings* column "
    f"changed. Mean episodic return +- 2 standard errors over {len(seeds)} seeds (0..N-1, "
    "the same for every arm), in brackets the worst-decile cumulative mean, read as the "
    "results tables read it (PureJaxRL's metric of the iteration reaching the step count). "
    f"Thesis: Table {THESIS_TABLE.get(env, '?')}, 128 seeds. The study is "
    "`tf_equirl.experiments.ppo_gaps`.\n",
  ]
  for h in config.chosen():
    present = [n for n in h.arms if n in runs]
    lines += [f"## {h.title}\n", f"{h.question}\n"]
    head = " | ".join(f"{c:,}" for c in checkpoints)
    lines += [
      f"| arm | network | settings | {head} |",
      "|---|---|---|" + "---|" * len(checkpoints),
    ]
    for n in present:
      rows = results.summarize(runs[n][1], runs[n][0], checkpoints)
      cells = " | ".join(results.summary_cell(r) for r in rows)
      lines.append(f"| {n} | {table[n].network} | {table[n].settings()} | {cells} |")
    for network in sorted({table[n].network for n in present} & set(thesis)):
      by_step = dict(zip(thesis_steps, thesis[network]))
      if any(c in by_step for c in checkpoints):  # not at other checkpoints (--total_steps)
        cells = " | ".join(by_step.get(c, "-") for c in checkpoints)
        lines.append(f"| thesis | {network} | the thesis' | {cells} |")
    lines.append("")
    values: Dict[str, np.ndarray] = {}
    arm_seeds: Dict[str, Sequence[int]] = {}
    pairs: List[Tuple[str, str]] = []
    for step in checkpoints:
      for a, b in h.pairs:
        for n in (a, b):
          label = checkpoint_label(n, step)
          values[label] = at_step(runs[n][1], runs[n][0], step)
          arm_seeds[label] = seeds[: values[label].shape[0]]
        pairs.append((checkpoint_label(a, step), checkpoint_label(b, step)))
    lines.append(
      comparisons_section(
        values,
        pairs,
        arm_seeds,
        heading=f"### Comparisons: {h.key}",
        what="episodic return at each checkpoint",
      )
    )
    if h.readings:
      refs = [n for n in h.arms if table[n].preset is None and not table[n].changes]
      num_envs = table[refs[0]].config(env).num_envs
      lines += [
        "### Readings\n",
        "The same runs read the ways of `tf_equirl.results.READINGS` (a reading that puts a "
        "checkpoint past the end of the run says so).\n",
        _readings_table(
          {n: arm_folder(runs_dir, next(a for a in arms if a.name == n)) for n in refs},
          seeds,
          checkpoints,
          int(num_envs),
        ),
      ]
  with open(path, "w") as f:
    f.write("\n".join(lines) + notes)
  return path


def run(config: PPOGapsConfig) -> str:
  """Trains every arm of `config`'s hypotheses for its seeds (reusing finished runs) and
  writes the report; returns its path."""
  arms = config.arms()
  runs_dir = os.path.join(config.runs, config.env)
  runs = train_arms(
    arms,
    list(range(config.seeds)),
    runs_dir,
    resume=config.resume,
    progress=config.progress,
    backend=config.backend,
    address=config.address,
    seeds_per_trial=config.seeds_per_trial,
    isolate=config.isolate,
  )
  short = "cartpole" if config.env.startswith("CartPole") else "catch"
  path = config.report or os.path.join(config.results, f"ppo_gaps_{short}", "README.md")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  return write_report(path, config, arms, runs, runs_dir)
