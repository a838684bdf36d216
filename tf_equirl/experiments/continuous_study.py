"""Continuous control under exact and broken symmetry (the seed's study, Park et al. 2025, 5.1).

Entry point: `run(ContinuousSpec(...)) -> str`, the path of its report, one per task in the
results registry (`python -m launchers.reproduce_all --only=continuous_pendulum`, and
`continuous_swingup`, `continuous_acrobot`, `continuous_reacher`). The report starts with
`declaration(spec)`, the variants, arms, budgets and comparisons fixed before training
(`declare(spec)` writes it alone). Per environment of `spec.grids`:

1. Train every arm of `spec.networks` (mlp, exact G-CNN, relaxed G-CNN, RPP; the actor-critic
   of `tf_equirl.agents.ac`) for `grid.seeds` seeds on the original environment and on each
   symmetry-breaking variant, with `run_ac_experiment` (finished seeds in `spec.runs` are
   reused). The evaluation protocol is the seed's: every `eval_every` env steps 10 episodes
   of the mean action (the curve), at the end 50 episodes per seed, clean and under
   test-time Gaussian observation noise (`ContinuousDefaults.eval_noise_sigma`), and the
   best policy over the runs.
2. Theorem 1 (`tf_equirl.experiments.symmetry_gap`): sampled `eps_R`, `eps_P` of every
   variant, each trained critic's Lipschitz estimate of its value, `alpha`, and the
   critic's measured `|Q(s, a) - Q(gs, ga)|`.
3. Write the report: final returns (mean +- SE), steps to the threshold, the curves (mean
   +- 2 SE, one PNG per environment), the comparisons (relaxed - gcnn, relaxed - rpp,
   gcnn - mlp on every variant, `tf_equirl.stats.compare` with Holm's correction), the
   Theorem 1 table and the relaxed-weight spread per layer (`relaxed_weight_spread`). On
   pictures also the start pictures that are their own mirror image, where an exactly
   equivariant actor's mean action is 0 (`tf_equirl.experiments.fixed_starts`), and on the
   swing-up each arm's final evaluation episodes that never raised the pole, clean and noisy.
4. With a strength sweep (`ContinuousGrid.sweep`: further strengths of a breaking, trained
   for the relaxed arm): the final return, Theorem 1's numbers and the relaxed-weight spread
   per layer against breaking strength, from strength 0 (the original) up.

`interim(spec)` writes the same report from the run records alone while the study trains
elsewhere: the cells (variant and arm) whose seeds have all finished, the comparisons between
them, and which are still to come; it trains nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from tensorflow import keras

from tf_equirl import checks, envs, provenance, results, runs, stats
from tf_equirl.agents.ac import ACConfig
from tf_equirl.agents.ac.experiment import ACExperimentResult, run_ac_experiment
from tf_equirl.envs.defaults import CONTINUOUS_DEFAULTS
from tf_equirl.experiments import fixed_starts, symmetry_gap
from tf_equirl.experiments._compare import (
  PENDING,
  compared_in_family,
  comparisons_section,
  comparisons_text,
)
from tf_equirl.networks.pixel_layout import PIXEL_ENCODER_KINDS

__all__ = [
  "ContinuousGrid",
  "ContinuousSpec",
  "variant_name",
  "declaration",
  "declare",
  "run",
  "interim",
  "ArmProgress",
  "progress",
  "format_progress",
  "NETWORKS",
  "PIXEL_NETWORKS",
  "PAIRS",
  "SINGLE_THREADED_PRODUCTS",
  "missing_xla_flags",
]

NETWORKS = ("mlp", "gcnn", "relaxed", "rpp")
# The pixel arms are the encoders of `tf_equirl.networks.pixel` (the seed's NonEquiv, ExactEquiv,
# relaxed and RPP); each feeds the actor and critic of its own kind (`ACConfig.head_kind`).
PIXEL_NETWORKS = PIXEL_ENCODER_KINDS
# The declared comparisons; "mlp" (states) and "cnn" (pixels) are the non-equivariant arm.
PAIRS = (("relaxed", "gcnn"), ("relaxed", "rpp"), ("gcnn", "mlp"), ("gcnn", "cnn"))
# XLA's CPU matrix products each on the thread that calls it (docs/notes/xla_threads.md): a
# seed's curve is then the same for every size of TensorFlow's thread pool, and on two cores
# with one agent per core Pendulum runs trained 1.2 to 1.3 times as fast.
SINGLE_THREADED_PRODUCTS = ("--xla_cpu_multi_thread_eigen=false",)
_XLA_FLAG = re.compile(r"--[a-z][a-z0-9_]*=\S+")


@dataclasses.dataclass
class ContinuousGrid:
  """One environment's part of the study.

  Attributes:
    env: registered continuous-control environment ("CartPoleSwingup-v0").
    variants: `(breaking, strength)` pairs trained besides the original environment.
    seeds: seeds per arm and variant, 0..N-1.
    total_steps: env steps per run.
    eval_every: env steps between two periodic evaluations.
    threshold: return whose first crossing (by the periodic evaluation) the table reports
      in env steps; None leaves the column out.
    final_obs_noise: test-time observation noise of the final evaluation (default the
      environment's `ContinuousDefaults.eval_noise_sigma`, 0 where it has none).
    overrides: further `ACConfig` fields (widths, random and exploration steps, ...; with
      pixels `image_size`, `frame_stack`, `replay_capacity`). Without `jit_compile` the runs
      compile with XLA where the environment can (`compiles_with_xla`; dm_control's tasks
      step through Python and train as graphs without XLA).
    observation: "state" (the arms are actor-critic kinds, `NETWORKS`) or "pixels" (the arms
      are pixel encoders, `PIXEL_NETWORKS`, each with the heads of its own kind; noise is
      added to the pictures' values).
    sweep: further `(breaking, strength)` pairs trained for the arms of `sweep_networks` only
      (those of them the spec trains), `sweep_seeds` seeds each. With the original (strength
      0) and the `variants` of the same breaking, they give the relaxed-weight spread per
      layer, Theorem 1's numbers and the final return against breaking strength, on seeds
      0..sweep_seeds-1 at every strength. Descriptive: no comparison is declared on them.
    sweep_networks: the arms of the sweep.
    sweep_seeds: seeds per arm and sweep variant (default `seeds`); at most `seeds`, as the
      sweep's strengths 0 and those of `variants` are read from the first `sweep_seeds`
      seeds of the grid's own runs.
    xla_flags: XLA flags (`--name=value`) the grid's runs train under. They are read once per
      process, at its first compilation, and change how the runs round, so a process that
      would train this grid's runs without them in `XLA_FLAGS` is refused (`run`);
      `launchers.reproduce_all` starts such a study's process with them. The tasks trained
      after the Pendulum study use `SINGLE_THREADED_PRODUCTS`.
  """

  env: str
  variants: Tuple[Tuple[str, float], ...]
  seeds: int
  total_steps: int
  eval_every: int = 20_000
  threshold: Optional[float] = None
  final_obs_noise: Optional[float] = None
  overrides: Dict[str, Any] = dataclasses.field(default_factory=dict)
  observation: str = "state"
  sweep: Tuple[Tuple[str, float], ...] = ()
  sweep_networks: Tuple[str, ...] = ("relaxed",)
  sweep_seeds: Optional[int] = None
  xla_flags: Tuple[str, ...] = ()

  def __post_init__(self):
    owner = f"ContinuousGrid {self.env}"
    self.xla_flags = tuple(self.xla_flags)
    for flag in self.xla_flags:
      if not isinstance(flag, str) or not _XLA_FLAG.fullmatch(flag):
        raise ValueError(
          f"{owner}.xla_flags: {flag!r} is not an XLA flag; expected '--name=value' "
          f"(e.g. {SINGLE_THREADED_PRODUCTS[0]!r})."
        )
    names = [flag.split("=", 1)[0] for flag in self.xla_flags]
    if len(set(names)) != len(names):
      raise ValueError(f"{owner}.xla_flags sets a flag twice: {self.xla_flags}.")
    if self.observation not in ("state", "pixels"):
      raise ValueError(
        f"{owner}.observation must be 'state' or 'pixels', received {self.observation!r}."
      )
    if "observation" in self.overrides or "encoder" in self.overrides:
      raise ValueError(
        f"{owner}.overrides may not set 'observation' or 'encoder': the grid's `observation` "
        f"and the spec's arms set them; received {sorted(self.overrides)}."
      )
    checks.positive_int(owner, "seeds", self.seeds)
    checks.positive_int(owner, "total_steps", self.total_steps)
    checks.positive_int(owner, "eval_every", self.eval_every)
    for breaking, strength in self.variants + self.sweep:
      envs.make(variant_name(self.env, breaking, strength))  # fails early on a bad variant
    self._check_sweep(owner)
    if self.final_obs_noise is None:
      row = CONTINUOUS_DEFAULTS.get(self.env)
      self.final_obs_noise = row.eval_noise_sigma if row is not None else 0.0

  def _check_sweep(self, owner: str) -> None:
    if self.sweep_seeds is None:
      self.sweep_seeds = self.seeds
    checks.positive_int(owner, "sweep_seeds", self.sweep_seeds)
    if self.sweep_seeds > self.seeds:
      raise ValueError(
        f"{owner}.sweep_seeds must be at most seeds ({self.seeds}): the sweep's strength 0 "
        f"and the variants' strengths are read from the grid's own seeds; received "
        f"{self.sweep_seeds}."
      )
    for breaking, strength in self.sweep:
      if float(strength) <= 0.0:
        raise ValueError(
          f"{owner}.sweep holds ({breaking!r}, {strength}): a sweep variant needs a strength "
          "above 0 (strength 0 is the original, which every grid trains)."
        )
      if (breaking, strength) in self.variants:
        raise ValueError(
          f"{owner}.sweep holds ({breaking!r}, {strength}), which is already one of the "
          f"variants {self.variants}: name each variant once."
        )
    if len(set(self.sweep)) != len(self.sweep):
      raise ValueError(f"{owner}.sweep names a variant twice: {self.sweep}.")
    unknown = [n for n in self.sweep_networks if n not in self.arms]
    if unknown or (self.sweep and not self.sweep_networks):
      raise ValueError(
        f"{owner}.sweep_networks must be arms of this grid {self.arms}; received "
        f"{self.sweep_networks!r}."
      )

  def sweep_names(self) -> List[str]:
    """The names of the sweep's variants ("Pendulum-v1:reflect:0.5"), in order."""
    return [variant_name(self.env, b, s) for b, s in self.sweep]

  def sweep_strengths(self) -> Dict[str, List[Tuple[float, str]]]:
    """Per breaking of the sweep, its strengths in increasing order with their variant names:
    0 (the original), the grid's `variants` of that breaking and the sweep's own."""
    table: Dict[str, List[Tuple[float, str]]] = {}
    for breaking, _ in self.sweep:
      if breaking in table:
        continue
      points = [(0.0, self.env)] + [
        (float(s), variant_name(self.env, b, s))
        for b, s in self.variants + self.sweep
        if b == breaking
      ]
      table[breaking] = sorted(points)
    return table

  @property
  def arms(self) -> Tuple[str, ...]:
    """The arms this grid can train: `NETWORKS` on states, `PIXEL_NETWORKS` on pixels."""
    return PIXEL_NETWORKS if self.observation == "pixels" else NETWORKS

  def config(self, variant: str, network: str) -> ACConfig:
    """The `ACConfig` of one arm on one variant (on pixels, `network` names the encoder)."""
    arm: Dict[str, Any] = (
      dict(observation="pixels", encoder=network, network="mlp")
      if self.observation == "pixels"
      else dict(network=network)
    )
    overrides = dict(self.overrides)
    if "jit_compile" not in overrides:
      overrides["jit_compile"] = bool(getattr(envs.make(variant), "compiles_with_xla", True))
    return ACConfig(
      env=variant,
      **arm,
      total_steps=self.total_steps,
      eval_every=self.eval_every,
      final_obs_noise=float(self.final_obs_noise or 0.0),
      **overrides,
    )


@dataclasses.dataclass
class ContinuousSpec:
  """The whole study.

  Attributes:
    grids: one `ContinuousGrid` per environment.
    networks: the arms: a subset of `NETWORKS` (or other `CONTINUOUS_KINDS`) for state grids,
      of `PIXEL_NETWORKS` for pixel grids.
    runs: folder of the per-seed outputs.
    report: path of the results file.
    command: the command written into the report.
    gap_envs: random rollouts of the Theorem 1 sampling (`transition_gap`'s `num_envs`).
    gap_steps: states per rollout (`rollout_steps`).
    fixed_start_episodes: episodes per variant of a pixel grid's `fixed_starts.fixed_starts`
      (the start pictures that are their own image under the group, where an exactly
      equivariant actor's mean action is 0).
  """

  grids: Tuple[ContinuousGrid, ...]
  runs: str
  report: str
  networks: Tuple[str, ...] = NETWORKS
  command: str = ""
  gap_envs: int = 256
  gap_steps: int = 100
  fixed_start_episodes: int = 512

  def __post_init__(self):
    checks.positive_int("ContinuousSpec", "fixed_start_episodes", self.fixed_start_episodes)
    if not self.grids or not self.networks:
      raise ValueError(
        f"ContinuousSpec needs at least one grid and one network, received "
        f"{len(self.grids)} grids and networks={self.networks!r}."
      )
    for grid in self.grids:
      if grid.observation == "pixels" and any(n not in PIXEL_NETWORKS for n in self.networks):
        raise ValueError(
          f"ContinuousSpec: the pixel grid {grid.env} trains pixel encoders "
          f"{PIXEL_NETWORKS}, received networks={self.networks!r}."
        )

  @property
  def observation(self) -> str:
    """ "pixels" when every grid sees pictures, else "state"."""
    return "pixels" if all(g.observation == "pixels" for g in self.grids) else "state"

  @property
  def xla_flags(self) -> Tuple[str, ...]:
    """The XLA flags the study's runs train under: every grid's `xla_flags`.

    Raises:
      ValueError: two grids set one flag to different values (one process trains them all).
    """
    flags: Dict[str, str] = {}
    for grid in self.grids:
      for flag in grid.xla_flags:
        name = flag.split("=", 1)[0]
        if flags.setdefault(name, flag) != flag:
          raise ValueError(
            f"ContinuousSpec: the grids set {name} to different values ({flags[name]!r} and "
            f"{flag!r}); one process trains every grid, so they must agree."
          )
    return tuple(flags.values())


def missing_xla_flags(
  flags: Sequence[str], environ: Optional[Mapping[str, str]] = None
) -> List[str]:
  """The flags of `flags` that `XLA_FLAGS` (of `environ`, default this process') lacks."""
  present = set((os.environ if environ is None else environ).get("XLA_FLAGS", "").split())
  return [flag for flag in flags if flag not in present]


def variant_name(env: str, breaking: Optional[str], strength: float) -> str:
  """`"Pendulum-v1"` for the original, `"Pendulum-v1:repeat:1"` for a variant."""
  return env if breaking is None else f"{env}:{breaking}:{strength:g}"


def _mean_se(values) -> str:
  values = np.asarray(values, np.float64)
  values = values[np.isfinite(values)]
  if values.size == 0:
    return "n/a"
  se = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else 0.0
  return f"{values.mean():.1f} +- {se:.1f}"


def _steps_to(curves: np.ndarray, env_steps: np.ndarray, threshold: float) -> str:
  """Mean env steps of the first evaluation at or above `threshold`, over the seeds that reach
  it, and how many do."""
  hits = [env_steps[np.argmax(c >= threshold)] for c in curves if np.any(c >= threshold)]
  if not hits:
    return f"not reached (0/{len(curves)})"
  return f"{np.mean(hits):,.0f} ({len(hits)}/{len(curves)})"


def _load(out: str, seed: int):
  folder = os.path.join(out, f"seed_{seed}")
  actor = keras.models.load_model(os.path.join(folder, "actor.keras"), compile=False)
  critic = keras.models.load_model(os.path.join(folder, "critic.keras"), compile=False)
  return actor, critic


ANALYSIS_FILE = "analysis.json"


def _samples_key(samples) -> str:
  """A hash of the analysis' samples (observations or pictures, and actions)."""
  digest = hashlib.sha256()
  for array in samples:
    digest.update(np.ascontiguousarray(array, np.float32).tobytes())
  return digest.hexdigest()[:16]


def _seed_fingerprint(out: str, seed: int) -> Optional[str]:
  """The fingerprint `run.json` records for a finished `seed` of the run in `out`."""
  path = os.path.join(out, runs.RUN_FILE)
  if not os.path.exists(path):
    return None
  with open(path, encoding="utf-8") as f:
    entry = json.load(f).get("seeds", {}).get(str(int(seed)), {})
  return entry.get("fingerprint")


@functools.lru_cache(maxsize=1)
def analysis_version() -> str:
  """A hash of the code that measures a trained seed (`symmetry_gap.measure_seed` and the
  library modules it imports, `tf_equirl.runs.import_closure`). A seed's analysis record is
  reused only with it: the actor-critic's fingerprint hashes the code that trains, not this."""
  return runs.modules_hash(runs.import_closure(("tf_equirl.experiments.symmetry_gap",)))


def _write_seed_analysis(
  seed: int, actor, critic, out: str, symmetry, samples, pixels: bool, fingerprint: Optional[str]
) -> Dict[str, Any]:
  record = dict(symmetry_gap.measure_seed(actor, critic, symmetry, samples, pixels))
  record.update(fingerprint=fingerprint, samples=_samples_key(samples), code=analysis_version())
  folder = os.path.join(out, f"seed_{seed}")
  os.makedirs(folder, exist_ok=True)
  results.write_json(os.path.join(folder, ANALYSIS_FILE), record)
  return record


def _seed_analysis(out: str, seed: int, symmetry, samples, pixels: bool) -> Dict[str, Any]:
  """`seed_<k>/analysis.json` of the run in `out` if it was measured on these samples for the
  seed's recorded run by this measuring code (`analysis_version`), else measured now from the
  saved actor and critic (and written)."""
  fingerprint = _seed_fingerprint(out, seed)
  path = os.path.join(out, f"seed_{seed}", ANALYSIS_FILE)
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      record = json.load(f)
    if (
      record.get("fingerprint") == fingerprint
      and record.get("samples") == _samples_key(samples)
      and record.get("code") == analysis_version()
    ):
      return record
  if not os.path.exists(os.path.join(out, f"seed_{seed}", "actor.keras")):
    raise FileNotFoundError(
      f"{out}: seed {seed} has finished, but neither its analysis ({path}, measured on these "
      "samples for this run by this code) nor its saved actor and critic are there; delete its entry in "
      f"{runs.RUN_FILE} to train it again."
    )
  actor, critic = _load(out, seed)
  return _write_seed_analysis(seed, actor, critic, out, symmetry, samples, pixels, fingerprint)


def _merge_shared_encoder(spreads: Dict[str, List[float]]) -> Dict[str, List[float]]:
  """The pixel agent's actor reads the critic's encoder (DrQ-v2), so `measure_seed` finds the
  encoder's relaxed layers in both models: `"actor/<layer>"` and `"critic/<layer>"` with the
  same value in every seed. Those pairs become one `"encoder/<layer>"` entry, placed first;
  a name in both whose values differ stays as two entries."""
  shared = {}
  for key, values in spreads.items():
    part, _, layer = key.partition("/")
    if part == "actor" and spreads.get(f"critic/{layer}") == values:
      shared[f"encoder/{layer}"] = values
  dropped = {f"{part}/{key.partition('/')[2]}" for key in shared for part in ("actor", "critic")}
  return {**shared, **{k: v for k, v in spreads.items() if k not in dropped}}


def _analyse(
  out: str, seeds: Sequence[int], symmetry, gamma: float, gap, samples, pixels: bool
) -> Dict:
  """Theorem 1 numbers and relaxed spreads of one arm's trained seeds. On pixels the critic's
  gap is measured on pictures, and the Lipschitz estimate and `alpha` are left out (nan): a
  gradient over pixel values has no common scale with `eps_P`, a distance between states.
  Each seed's numbers are its `analysis.json` (written as it finished training), so the
  report needs the run records only, not the saved models (`tf_equirl.runs.copy_records`)."""
  per_seed = [_seed_analysis(out, seed, symmetry, samples, pixels) for seed in seeds]
  spreads: Dict[str, Any] = {}
  for record in per_seed:
    for layer, value in record["spreads"].items():
      spreads.setdefault(layer, []).append(value)
  if pixels:
    spreads = _merge_shared_encoder(spreads)
  lip = float("nan") if pixels else float(np.mean([r["lipschitz"] for r in per_seed]))
  return {
    "lipschitz": lip,
    "alpha": float("nan")
    if pixels
    else symmetry_gap.theorem1_alpha(gap.eps_r, gap.eps_p, gamma, lip),
    "gap_mean": float(np.mean([r["gap_mean"] for r in per_seed])),
    "gap_max": float(np.max([r["gap_max"] for r in per_seed])),
    "spreads": spreads,
  }


def _analysis_samples(spec: "ContinuousSpec", grid: "ContinuousGrid", name: str):
  """`(samples, symmetry)` of variant `name`: the states (or pictures) and actions the
  trained critics are measured on, and the environment's symmetry."""
  if grid.observation == "pixels":
    c = grid.config(name, spec.networks[0])
    samples = symmetry_gap.sample_pictures(
      name, c.image_size, c.frame_stack, max(spec.gap_envs // 16, 1), spec.gap_steps // 4 or 1
    )
    symmetry = envs.make(
      name, observation="pixels", image_size=c.image_size, frame_stack=c.frame_stack
    ).symmetry
    return samples, symmetry
  samples = symmetry_gap.sample_observations(name, max(spec.gap_envs // 4, 1), spec.gap_steps)
  return samples, envs.make(name).symmetry


def _arm_folder(spec: ContinuousSpec, variant: str, network: str) -> str:
  """The run folder of one arm on one variant: `<runs>/<variant, ':' as '_'>/<network>`."""
  return os.path.join(spec.runs, variant.replace(":", "_"), network)


@dataclasses.dataclass(frozen=True)
class ArmProgress:
  """How far one arm on one variant is in a study's runs folder.

  Attributes:
    variant: the environment variant ("CartPoleSwingup-v0:reflect:1").
    network: the arm.
    seeds: the seeds the study trains for it (0..seeds-1).
    finished: seeds finished with the study's config and this code: the study reuses them.
    stale: seeds recorded as finished with another config or code version: the study
      trains them again.
  """

  variant: str
  network: str
  seeds: int
  finished: Tuple[int, ...]
  stale: Tuple[int, ...]


def progress(spec: ContinuousSpec) -> List[ArmProgress]:
  """Each arm's seeds in `spec.runs` against what `run(spec)` would reuse: a seed counts as
  finished when its `run.json` entry is finished with the fingerprint of the study's config,
  the seed and this code (`tf_equirl.runs.seed_fingerprint`) and its curve is there. Reads
  the run records only (what `--export_records` moves between machines); trains nothing.

  Raises:
    ValueError: a `run.json` that cannot be read as a run record.
  """
  return [row for grid in spec.grids for row in _grid_progress(spec, grid)]


def _sweep_networks(spec: ContinuousSpec, grid: ContinuousGrid) -> List[str]:
  """The arms of the spec that the grid's strength sweep trains."""
  return [n for n in spec.networks if n in grid.sweep_networks] if grid.sweep else []


def _cells(spec: ContinuousSpec, grid: ContinuousGrid) -> List[Tuple[str, str, int]]:
  """`(variant, network, seeds)` of every cell the grid trains: each arm on the original and
  on each variant, then the sweep's arms on the sweep's variants."""
  names = [variant_name(grid.env, b, s) for b, s in [(None, 0.0)] + list(grid.variants)]
  cells = [(name, network, grid.seeds) for name in names for network in spec.networks]
  sweep_seeds = int(grid.sweep_seeds or grid.seeds)
  cells += [
    (name, network, sweep_seeds)
    for name in grid.sweep_names()
    for network in _sweep_networks(spec, grid)
  ]
  return cells


def _grid_progress(spec: ContinuousSpec, grid: ContinuousGrid) -> List[ArmProgress]:
  """`progress` of one grid."""
  rows = []
  for name, network, seeds in _cells(spec, grid):
    config = grid.config(name, network)
    out = _arm_folder(spec, name, network)
    recorded = _recorded_seeds(out)
    version = runs.code_version(config)
    finished: List[int] = []
    stale: List[int] = []
    for seed in range(seeds):
      entry = recorded.get(str(seed))
      if not entry or entry.get("status") != "finished":
        continue
      current = entry.get("fingerprint") == runs.seed_fingerprint(
        config, seed, version
      ) and os.path.exists(os.path.join(out, f"seed_{seed}.csv"))
      (finished if current else stale).append(seed)
    rows.append(ArmProgress(name, network, seeds, tuple(finished), tuple(stale)))
  return rows


def _recorded_seeds(out: str) -> Dict[str, Dict[str, Any]]:
  """The `seeds` entries of `out/run.json` ({} if the arm has not started)."""
  path = os.path.join(out, runs.RUN_FILE)
  if not os.path.exists(path):
    return {}
  try:
    with open(path, encoding="utf-8") as f:
      record = json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(f"{path} is not a readable run record ({e}); expected run.json's JSON.") from e
  seeds = record.get("seeds") if isinstance(record, dict) else None
  if not isinstance(seeds, dict):
    raise ValueError(f"{path} has no 'seeds' mapping; expected a run record of tf_equirl.runs.")
  return seeds


def format_progress(spec: ContinuousSpec, rows: Sequence[ArmProgress]) -> str:
  """`progress(spec)` as a table (finished and stale seeds per variant and arm) and a total."""
  versions = sorted({runs.code_version(g.config(g.env, spec.networks[0])) for g in spec.grids})
  lines = [
    f"{spec.runs}: runs finished with this code (code version {', '.join(versions)})",
    "",
    "| variant | network | finished | seeds | stale |",
    "|---|---|---|---|---|",
  ]
  for r in rows:
    lines.append(
      f"| {r.variant} | {r.network} | {len(r.finished)}/{r.seeds} | "
      f"{provenance.format_seeds(r.finished)} | {provenance.format_seeds(r.stale)} |"
    )
  done = sum(len(r.finished) for r in rows)
  total = sum(r.seeds for r in rows)
  stale = sum(len(r.stale) for r in rows)
  lines += ["", f"{done} of {total} runs finished; {stale} stale (trained again)."]
  return "\n".join(lines)


def _finished_result(config: ACConfig, seeds: Sequence[int], out: str):
  """The `ACExperimentResult` of an arm whose seeds have all finished, read from its run
  records (curves and final evaluations) as `run_ac_experiment` reads finished seeds; the
  run folder is not touched. Timings and parameter counts are not in the records: nan and {}."""
  curves, clean, noisy = [], [], []
  for seed in seeds:
    curves.append(results.read_seed_csv(os.path.join(out, f"seed_{seed}.csv"))["eval_return"])
    with open(os.path.join(out, f"seed_{seed}_final.json"), encoding="utf-8") as f:
      saved = json.load(f)
    clean.append(np.asarray(saved["clean"], np.float64))
    noisy.append(np.asarray(saved["noisy"], np.float64))
  return ACExperimentResult(
    seeds=list(seeds),
    env_steps=np.arange(config.total_steps // config.eval_every + 1) * config.eval_every,
    curves=np.stack([np.asarray(c, np.float64) for c in curves]),
    parameter_counts={},
    compile_seconds=float("nan"),
    steps_per_second=float("nan"),
    final_returns=np.stack(clean),
    final_noisy_returns=np.stack(noisy),
  )


def _interim_words(grid: ContinuousGrid, arms: Sequence[ArmProgress], cells: int) -> str:
  """The paragraph that opens a grid's section of an interim report."""
  done = sum(len(r.finished) for r in arms)
  total = sum(r.seeds for r in arms)
  return (
    f"**Interim report.** {done} of {total} runs of this grid have finished. "
    f"The tables hold the {cells} of {len(arms)} cells (variant and arm) whose "
    + (f"{grid.seeds} " if not grid.sweep else "")
    + "seeds have all finished; the others are still training and join the report when the "
    "study completes. The comparisons still to come count as p = 1 in Holm's correction over "
    "the declared family, so a comparison significant here stays significant in the complete "
    "study.\n\n"
  )


def _grid_section(
  spec: ContinuousSpec, grid: ContinuousGrid, folder: str, interim: bool = False
) -> str:
  seeds = list(range(grid.seeds))
  variants = [(None, 0.0)] + list(grid.variants)
  trained: Dict[str, Dict[str, Any]] = {}
  analyses: Dict[str, Dict[str, Dict]] = {}
  gaps: Dict[str, Any] = {}
  steps: Optional[np.ndarray] = None
  gamma, repeat = 0.99, 2
  pixels = grid.observation == "pixels"
  arms = _grid_progress(spec, grid) if interim else []
  complete = {(r.variant, r.network) for r in arms if len(r.finished) == r.seeds}
  inputs: Dict[str, Tuple[Any, Any]] = {}  # variant: (samples, symmetry) of its analysis
  sweep: Dict[str, Dict[str, Any]] = {}  # the sweep's variants: {network: result}
  sweep_names = grid.sweep_names()
  main_names = [variant_name(grid.env, b, s) for b, s in variants]
  for name in main_names + sweep_names:
    in_sweep = name in sweep_names
    arms_here = _sweep_networks(spec, grid) if in_sweep else list(spec.networks)
    networks = [n for n in arms_here if not interim or (name, n) in complete]
    if not networks:
      continue
    cell_seeds = list(range(int(grid.sweep_seeds or grid.seeds))) if in_sweep else seeds
    results_here = sweep.setdefault(name, {}) if in_sweep else trained.setdefault(name, {})
    inputs[name] = samples, symmetry = _analysis_samples(spec, grid, name)
    for network in networks:
      config = grid.config(name, network)
      gamma, repeat = config.gamma, config.action_repeat
      results_here[network] = _cell_result(
        spec, grid, name, network, cell_seeds, samples, symmetry, interim
      )
      if not in_sweep:
        steps = results_here[network].env_steps
    gaps[name] = symmetry_gap.transition_gap(
      name, spec.gap_envs, spec.gap_steps, action_repeat=repeat
    )
    if not in_sweep:
      analyses[name] = {
        network: _analyse(
          _arm_folder(spec, name, network), seeds, symmetry, gamma, gaps[name], samples, pixels
        )
        for network in networks
      }
  interim_words = _interim_words(grid, arms, len(complete)) if interim else ""
  if not trained:
    return f"## {grid.env}\n\n{interim_words}"
  png = os.path.join(folder, f"continuous_{grid.env.split('-')[0].lower()}.png")
  panels = {v: {n: r.curves for n, r in nets.items()} for v, nets in trained.items()}
  assert steps is not None  # a trained arm set it
  results.plot_curve_panels(
    png, panels, steps, title=f"{grid.env}: evaluation return, mean +- 2 SE", window=1
  )
  sigma = grid.final_obs_noise or 0.0
  first = next(iter(next(iter(trained.values())).values()))
  episodes = first.final_returns.shape[1]
  pixel_words = ""
  if grid.observation == "pixels":
    c = grid.config(grid.env, spec.networks[0])
    pixel_words = (
      f"Pictures {c.image_size}x{c.image_size}, {c.frame_stack} stacked frames; "
      f"{grid.total_steps:,} env steps (frames) per run are "
      f"{100 * grid.total_steps / SEED_PIXEL_FRAMES:.2g} % of the seed's {SEED_PIXEL_FRAMES:,}. "
    )
  report = [
    f"## {grid.env}\n",
    interim_words
    + pixel_words
    + f"{grid.seeds} seeds per cell, {grid.total_steps:,} env steps per run, evaluation of the "
    f"mean action every {grid.eval_every:,} env steps. Last eval: the last periodic "
    f"evaluation. Final: {episodes} episodes per seed after training"
    + (f"; noisy: the same episodes with N(0, {sigma:g}^2) on each observation entry" * bool(sigma))
    + ". Cells are mean +- SE over seeds. Best: the seed with the highest last evaluation, "
    "its final evaluation.\n",
  ]
  header = "| variant | network | last eval | final | noisy | best (seed: final) |"
  if grid.threshold is not None:
    header += f" env steps to {grid.threshold:g} (seeds) |"
  report += [header, "|" + "---|" * (header.count("|") - 1)]
  for variant, nets in trained.items():
    for network, r in nets.items():
      best = r.best
      clean = r.final_returns.mean(axis=1) if r.final_returns.size else []
      noisy = r.final_noisy_returns.mean(axis=1) if r.final_noisy_returns.size else []
      row = (
        f"| {variant} | {network} | {_mean_se(r.curves[:, -1])} | {_mean_se(clean)} | "
        f"{_mean_se(noisy)} | {best['seed']}: {best['final']:.1f} |"
      )
      if grid.threshold is not None:
        row += f" {_steps_to(r.curves, r.env_steps, grid.threshold)} |"
      report.append(row)
  report.append("")
  report.append(f"![curves]({os.path.basename(png)})\n")
  values, arm_seeds = {}, {}
  for variant, nets in trained.items():
    for network, r in nets.items():
      label = f"{network} on {variant}"
      per_seed = r.final_returns.mean(axis=1) if r.final_returns.size else r.curves[:, -1]
      values[label], arm_seeds[label] = per_seed, seeds
  heading = f"### {grid.env}: comparisons"
  if interim:
    report.append(
      _interim_comparisons(
        values,
        _comparisons(spec, grid),
        arm_seeds,
        heading,
        "final return",
        "an arm still training; ",
      )
    )
  else:
    report.append(
      comparisons_section(
        values, _comparisons(spec, grid), arm_seeds, heading=heading, what="final return"
      )
    )
  report.append(_family_intervals(values, _comparisons(spec, grid), arm_seeds))
  noisy_values = {
    f"{network} on {variant}": r.final_noisy_returns.mean(axis=1)
    for variant, nets in trained.items()
    for network, r in nets.items()
    if r.final_noisy_returns.size
  }
  if sigma and noisy_values:
    report.append(_noisy_comparisons(spec, grid, noisy_values, arm_seeds, sigma, interim))
  if pixels:
    report.append(_fixed_starts_section(spec, grid, trained, sigma))
  report.append(f"### {grid.env}: Theorem 1\n")
  report.append(
    "eps_R, eps_P: maxima over sampled (s, a, g) of the reward and next-observation "
    "mismatch of one agent step (`symmetry_gap.transition_gap`: sampled lower estimates of "
    "the suprema); Lip: the trained critics' max gradient norm of V(s) = min Q(s, mu(s)) "
    "(mean over seeds), standing in for ||V*||_Lip; alpha = (eps_R + gamma Lip eps_P) / "
    f"(1 - gamma), gamma = {gamma:g}; critic gap: measured |Q(s, a) - Q(gs, ga)| (mean over "
    "samples and seeds, max).\n"
  )
  if grid.observation == "pixels":
    report.append(
      "On pixels the critic gap is measured on pictures of the sampled states "
      "(`symmetry_gap.sample_pictures`, each state held still for the stacked frames) and "
      "their mirrored or turned pictures. Lip and alpha are not given (nan): the critic's "
      "gradient is taken over pixel values, which share no scale with eps_P, a distance "
      "between states.\n"
    )
  report.append("| variant | eps_R | eps_P | network | Lip | alpha | critic gap mean | max |")
  report.append("|---|---|---|---|---|---|---|---|")
  for variant, nets in analyses.items():
    g = gaps[variant]
    for network, a in nets.items():
      report.append(
        f"| {variant} | {g.eps_r:.3g} | {g.eps_p:.3g} | {network} | {a['lipschitz']:.3g} | "
        f"{a['alpha']:.3g} | {a['gap_mean']:.3g} | {a['gap_max']:.3g} |"
      )
  report.append("")
  rows = [
    f"| {variant} | {network} | {layer} | {np.mean(v):.3g} +- {np.std(v):.3g} |"
    for variant, nets in analyses.items()
    for network, a in nets.items()
    for layer, v in a["spreads"].items()
  ]
  if rows:
    report.append(f"### {grid.env}: relaxed-weight spread per layer\n")
    report.append(
      "`relaxed_weight_spread` of each trained actor and critic (0: exactly equivariant; for "
      "rpp `free_ratio`, |V| / |exact kernel|), mean +- std over seeds."
      + (
        " The actor reads the critic's encoder: the encoder's layers stand once, as `encoder/`."
        if grid.observation == "pixels"
        else ""
      )
      + "\n"
    )
    report += ["| variant | network | layer | spread |", "|---|---|---|---|", *rows, ""]
  if grid.sweep:
    report.append(_strength_section(spec, grid, folder, trained, sweep, inputs, gaps, gamma))
  return "\n".join(report)


def _cell_result(
  spec: ContinuousSpec,
  grid: ContinuousGrid,
  name: str,
  network: str,
  seeds: Sequence[int],
  samples,
  symmetry,
  interim: bool,
):
  """The `ACExperimentResult` of one cell (an arm on a variant): trained by
  `run_ac_experiment` (finished seeds reused; each seed measured for the report as it
  finishes), or with `interim` read from the run records of its finished seeds."""
  config = grid.config(name, network)
  out = _arm_folder(spec, name, network)
  if interim:
    return _finished_result(config, seeds, out)
  pixels = grid.observation == "pixels"

  def measure(seed, actor, critic, folder):
    # Measured as the seed finishes, so its record holds everything the report needs.
    fingerprint = runs.seed_fingerprint(config, seed)
    _write_seed_analysis(seed, actor, critic, folder, symmetry, samples, pixels, fingerprint)

  return run_ac_experiment(config, seeds, out, resume=True, on_seed_trained=measure)


# Per layer label: (strengths, mean spreads, their std over seeds).
_Spreads = Mapping[str, Tuple[List[float], List[float], List[float]]]


def _strength_section(
  spec: ContinuousSpec,
  grid: ContinuousGrid,
  folder: str,
  trained: Dict[str, Dict[str, Any]],
  sweep: Dict[str, Dict[str, Any]],
  inputs: Dict[str, Tuple[Any, Any]],
  gaps: Dict[str, Any],
  gamma: float,
) -> str:
  """The grid's strength sweep: per breaking, the sweep's arms at strength 0 (the original),
  the variants' and the sweep's strengths, on seeds 0..sweep_seeds-1 of each: final return,
  Theorem 1's numbers and the relaxed-weight spread per layer (a table and a figure). A
  strength whose cell has not finished (an interim report) is left out."""
  k = int(grid.sweep_seeds or grid.seeds)
  seeds = list(range(k))
  pixels = grid.observation == "pixels"
  text = [
    f"### {grid.env}: against breaking strength\n",
    f"The sweep's arms at every strength of a breaking on seeds 0-{k - 1}: the original "
    "(strength 0) and the declared variants (their first "
    f"{k} seeds) beside the sweep's own variants. Descriptive: no comparison is declared on "
    "them. Final: each seed's mean final return, mean +- SE over seeds; eps_R, eps_P, Lip, "
    "alpha and the critic gap as in the Theorem 1 table, on these seeds; spread: "
    "`relaxed_weight_spread` per layer (for rpp `free_ratio`), mean +- std over seeds.\n",
  ]
  curves: Dict[str, Dict[str, Tuple[List[float], List[float], List[float]]]] = {}
  for breaking, points in grid.sweep_strengths().items():
    rows: List[str] = []
    spreads: Dict[Tuple[str, str], Dict[float, List[float]]] = {}
    for network in _sweep_networks(spec, grid):
      for strength, name in points:
        result = (sweep if name in grid.sweep_names() else trained).get(name, {}).get(network)
        if result is None:
          continue
        samples, symmetry = inputs[name]
        out = _arm_folder(spec, name, network)
        a = _analyse(out, seeds, symmetry, gamma, gaps[name], samples, pixels)
        finals = result.final_returns[:k].mean(axis=1) if result.final_returns.size else []
        g = gaps[name]
        rows.append(
          f"| {strength:g} | {network} | {_mean_se(finals)} | {g.eps_r:.3g} | {g.eps_p:.3g} | "
          f"{a['lipschitz']:.3g} | {a['alpha']:.3g} | {a['gap_mean']:.3g} |"
        )
        for layer, values in a["spreads"].items():
          spreads.setdefault((network, layer), {})[strength] = values
    if not rows:
      continue
    strengths = [s for s, _ in points]
    text += [
      f"#### {breaking}\n",
      "| strength | network | final | eps_R | eps_P | Lip | alpha | critic gap mean |",
      "|---|---|---|---|---|---|---|---|",
      *rows,
      "",
    ]
    if spreads:
      text += [
        "| network | layer | " + " | ".join(f"strength {s:g}" for s in strengths) + " |",
        "|---|---|" + "---|" * len(strengths),
      ]
      for (network, layer), by_strength in spreads.items():
        cells = [
          f"{np.mean(by_strength[s]):.3g} +- {np.std(by_strength[s]):.3g}"
          if s in by_strength
          else "-"
          for s in strengths
        ]
        text.append(f"| {network} | {layer} | " + " | ".join(cells) + " |")
        xs = [s for s in strengths if s in by_strength]
        curves.setdefault(breaking, {})[f"{network} {layer}"] = (
          xs,
          [float(np.mean(by_strength[s])) for s in xs],
          [float(np.std(by_strength[s])) for s in xs],
        )
      text.append("")
  if curves:
    png = os.path.join(folder, f"continuous_{grid.env.split('-')[0].lower()}_strength.png")
    top = max(s for points in grid.sweep_strengths().values() for s, _ in points)
    _plot_spreads(png, curves, f"{grid.env}: relaxed-weight spread against breaking strength", top)
    text.append(f"![spread against strength]({os.path.basename(png)})\n")
  return "\n".join(text)


def _plot_spreads(path: str, panels: Mapping[str, _Spreads], title: str, top: float) -> None:
  """One panel per breaking: each layer's mean spread against strength (0 to `top`), +- std
  over seeds, the layers side by side around each strength."""
  plt = results.pyplot()
  fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.0), squeeze=False)
  for ax, (breaking, lines) in zip(axes.flat, panels.items()):
    dodge = 0.012 * top
    for index, (label, (xs, mean, std)) in enumerate(lines.items()):
      style = results.line_style(index)
      shift = (index - (len(lines) - 1) / 2) * dodge
      x = [v + shift for v in xs]
      ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=label, **style)
    ax.set_xlim(-0.1 * top, 1.1 * top)
    ax.set(title=breaking, xlabel="breaking strength", ylabel="relaxed-weight spread")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
  fig.suptitle(title)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _family_intervals(
  values: Mapping[str, np.ndarray],
  pairs: Sequence[Tuple[str, str]],
  arm_seeds: Mapping[str, Sequence[int]],
  confidence: float = 0.95,
) -> str:
  """The declared comparisons' simultaneous intervals: each difference's percentile-bootstrap
  interval at level `1 - (1 - confidence) / m` over the family's `m` pairs (Bonferroni), so
  that all `m` hold together with probability at least `confidence`; a pair whose arms have
  not both finished (an interim report) still counts in `m`. `""` when no pair can be made."""
  rows = []
  level = 1.0 - (1.0 - confidence) / max(len(pairs), 1)
  for index, (a, b) in enumerate(pairs):
    usable = all(
      name in values and np.asarray(values[name]).size >= 2 and np.all(np.isfinite(values[name]))
      for name in (a, b)
    )
    if not usable:
      continue
    d = stats.difference_of_means(
      np.asarray(values[a], np.float64),
      np.asarray(values[b], np.float64),
      seeds_a=list(arm_seeds[a]),
      seeds_b=list(arm_seeds[b]),
      names=(a, b),
      confidence=level,
      seed=index,
    )
    covers = "yes" if d.ci_low <= 0.0 <= d.ci_high else "no"
    rows.append(
      f"| {a} - {b} | {d.difference:.3g} | [{d.ci_low:.3g}, {d.ci_high:.3g}] | {covers} |"
    )
  if not rows:
    return ""
  return "\n".join(
    [
      f"Simultaneous {100 * confidence:g} % intervals of the same differences: each a "
      f"percentile-bootstrap interval at level {100 * level:.4g} % (Bonferroni over the "
      f"{len(pairs)} declared comparisons), so that all of them hold together with "
      f"probability at least {100 * confidence:g} % as far as the bootstrap is right. They "
      "are the bootstrap's alone: the reading above also asks the t-test to agree, so an "
      "interval may miss 0 where the reading is level (with few seeds the bootstrap is "
      "overconfident).\n",
      "| comparison | difference | simultaneous interval | covers 0 |",
      "|---|---|---|---|",
      *rows,
      "",
    ]
  )


def _interim_comparisons(
  values: Dict[str, np.ndarray],
  pairs: Sequence[Tuple[str, str]],
  arm_seeds: Mapping[str, Sequence[int]],
  heading: str,
  what: str,
  why: str = "",
) -> str:
  """An interim report's comparisons section: those of the declared `pairs` that can be made
  (`compared_in_family`), then the pairs still to come. Under `heading` even before any pair
  can be made, so the pending pairs stand in their own section ("" when nothing is pending
  and nothing was made)."""
  diffs, left_out, pending = compared_in_family(values, pairs, arm_seeds)
  text = comparisons_text(diffs, left_out, heading, what=what)
  if not pending:
    return text
  if not text:
    text = f"{heading}\n\nNo comparison yet: every pair has an arm still training.\n"
    if left_out:  # no pair made, so comparisons_text did not say which were left out
      text = text.replace("every pair has", "every other pair has")
      text += f"\nLeft out (fewer than 2 finite per-seed values): {', '.join(left_out)}.\n"
    where = "in Holm's correction over the family, when its first pair is made"
  else:
    where = "in Holm's correction above"
  return text + f"\nStill to come ({why}p = 1 {where}): {', '.join(pending)}.\n"


def _noisy_comparisons(
  spec: ContinuousSpec,
  grid: ContinuousGrid,
  values: Dict[str, np.ndarray],
  arm_seeds: Mapping[str, Sequence[int]],
  sigma: float,
  interim: bool,
) -> str:
  """The declared comparisons made again on each seed's mean noisy final return: an
  exploratory family of its own (not declared), Holm-corrected within itself."""
  heading = f"### {grid.env}: the same comparisons on the noisy final return (exploratory)"
  what = f"final return under N(0, {sigma:g}^2) observation noise"
  preface = (
    "Not declared: the declared measure is the clean final return above. The same pairs on "
    "each seed's mean final return under the observation noise, Holm's correction within "
    "this table."
  )
  if grid.observation == "pixels":
    preface += (
      " An exactly equivariant actor that stalls at a start picture that is its own image "
      "under the group in the clean evaluation does not under noise (next section)."
    )
  pairs = _comparisons(spec, grid)
  if interim:
    text = _interim_comparisons(values, pairs, arm_seeds, heading, what)
  else:
    text = comparisons_section(values, pairs, arm_seeds, heading=heading, what=what)
  if not text:
    return ""
  head, rest = text.split("\n", 1)
  return f"{head}\n\n{preface}\n\n{rest.lstrip()}"


def _fixed_starts_section(
  spec: ContinuousSpec, grid: ContinuousGrid, trained: Dict[str, Dict[str, Any]], sigma: float
) -> str:
  """A pixel grid's fixed starts (`fixed_starts.fixed_starts` on each variant's pictures) and,
  on a swing-up (`fixed_starts.STALLED_RETURNS`), each arm's final evaluation episodes that
  never raised the pole, clean and noisy."""
  if not fixed_starts.forcing_elements(envs.make(grid.env).symmetry):
    return ""  # no observation forces an equivariant actor's action to 0
  first = grid.config(grid.env, spec.networks[0])
  episodes = spec.fixed_start_episodes
  rows = []
  for variant in trained:
    found = fixed_starts.fixed_starts(
      variant,
      episodes=episodes,
      image_size=first.image_size,
      frame_stack=first.frame_stack,
      action_repeat=first.action_repeat,
    )
    steps = found.steps_fixed[found.fixed]
    spread = (
      f"{np.median(steps):,.0f} ({np.percentile(steps, 10):,.0f}, "
      f"{np.percentile(steps, 90):,.0f})"
      if steps.size
      else "-"
    )
    rows.append(
      f"| {variant} | {100 * found.fraction_fixed:.1f} % | {spread} | "
      f"{100 * found.fraction_stuck:.1f} % |"
    )
  text = [
    f"### {grid.env}: start pictures that are their own image under the group\n",
    "Where an observation s is its own image under a group element g whose action "
    "representation fixes only the zero action (the mirror, which negates the action, is "
    "one), g s = s, an exactly equivariant actor's mean action is 0 (to rounding): mu(s) = "
    f"mu(g s) = rho(g) mu(s). `fixed_starts.fixed_starts` resets {episodes} episodes of each "
    f"variant, drawn as the agents see them ({first.image_size}x{first.image_size}, "
    f"{first.frame_stack} frames {first.action_repeat} env steps apart), and holds the action "
    "at 0. Fixed starts: the share of start pictures that equal their image under such a g "
    "(the renderer paints whole pixels, so the reset noise may move nothing by one); steps: "
    "the env steps such a picture stays so under the zero action, median (10th, 90th "
    "percentile); whole episode: the share that stays so to the end. An evaluation of the "
    "mean action with an exactly equivariant actor leaves such a start only when the drift "
    "of the reset velocities shows in the picture; observation noise breaks the tie at the "
    "first step.\n",
    "| variant | fixed starts | steps | whole episode |",
    "|---|---|---|---|",
    *rows,
    "",
  ]
  limit = fixed_starts.STALLED_RETURNS.get(grid.env)
  if limit is not None:
    text += [
      f"Final evaluation episodes with a return under {limit:g} (the pole never rose), over "
      "all seeds: clean, and with the noise" + (f" N(0, {sigma:g}^2)" if sigma else "") + ".\n",
      "| variant | network | clean | noisy |",
      "|---|---|---|---|",
    ]
    for variant, nets in trained.items():
      for network, r in nets.items():
        clean, noisy = r.final_returns, r.final_noisy_returns
        count = lambda x: f"{int(np.sum(x < limit))} of {x.size}" if x.size else "-"  # noqa: E731
        text.append(f"| {variant} | {network} | {count(clean)} | {count(noisy)} |")
    text.append("")
  return "\n".join(text)


def _comparisons(spec: ContinuousSpec, grid: ContinuousGrid) -> List[Tuple[str, str]]:
  """The declared pairs of one grid, one family: `PAIRS` whose two arms are trained, on the
  original environment and on every variant."""
  variants = [variant_name(grid.env, b, s) for b, s in [(None, 0.0)] + list(grid.variants)]
  return [
    (f"{a} on {v}", f"{b} on {v}")
    for v in variants
    for a, b in PAIRS
    if a in spec.networks and b in spec.networks
  ]


def declaration(spec: ContinuousSpec) -> str:
  """The study's pre-declaration (markdown): per grid its variants, arms, seeds, budget,
  evaluation and the comparisons its report answers; written before any arm trains."""
  lines = [
    "## Declaration\n",
    "Written before any arm trains; the comparisons below are the ones the results answer.\n",
  ]
  for grid in spec.grids:
    config = grid.config(grid.env, spec.networks[0])
    variants = [f"{grid.env} (original)"] + [variant_name(grid.env, b, s) for b, s in grid.variants]
    sigma = float(grid.final_obs_noise or 0.0)
    lines += [
      f"### {grid.env}\n",
      f"- Variants: {', '.join(variants)}.",
      f"- Arms: {', '.join(spec.networks)}; seeds 0-{grid.seeds - 1} for every arm and "
      "variant (paired).",
      f"- Budget: {grid.total_steps:,} env steps per run (action repeat "
      f"{config.action_repeat}).",
      f"- Evaluation: the mean action for {config.eval_episodes} episodes every "
      f"{grid.eval_every:,} env steps (the curves); after training {config.final_episodes} "
      "episodes per seed"
      + (f", clean and with N(0, {sigma:g}^2) noise on each observation entry" if sigma else "")
      + "."
      + (
        f" Env steps until the periodic evaluation first reaches {grid.threshold:g}."
        if grid.threshold is not None
        else ""
      ),
    ]
    if grid.xla_flags:
      lines.append(
        f"- Compiled with XLA_FLAGS `{' '.join(grid.xla_flags)}`"
        + (
          " (each matrix product on the thread that calls it: a seed's curve is the same for "
          "every size of TensorFlow's thread pool; docs/notes/xla_threads.md)."
          if grid.xla_flags == SINGLE_THREADED_PRODUCTS
          else "."
        )
      )
    if _sweep_networks(spec, grid):
      lines.append(
        f"- Strength sweep (descriptive, no comparisons): {', '.join(grid.sweep_names())}; "
        f"arms {', '.join(_sweep_networks(spec, grid))}; seeds 0-{int(grid.sweep_seeds or 0) - 1}. "
        "With the original and the variants above of the same breaking (their first "
        f"{grid.sweep_seeds} seeds): final return, Theorem 1's numbers and the relaxed-weight "
        "spread per layer against breaking strength."
      )
    pairs = _comparisons(spec, grid)
    if pairs:
      lines += [
        "- Measure compared: each seed's mean final return. Statistics: "
        "`tf_equirl.stats.compare`, paired over seeds, percentile-bootstrap 95 % intervals, "
        "Holm's correction over this task's comparisons:",
        "",
        "| comparison |",
        "|---|",
        *[f"| {a} - {b} |" for a, b in pairs],
        "",
      ]
    else:
      names = ", ".join(f"{a} - {b}" for a, b in PAIRS)
      lines += [f"- Comparisons: none; no two of these arms form a declared pair ({names}).", ""]
  return "\n".join(lines)


def _heading(spec: ContinuousSpec) -> str:
  pixels = spec.observation == "pixels"
  return (
    "# Continuous control"
    + " from pixels" * pixels
    + ": exact, relaxed and residual-pathway "
    + ("encoders" if pixels else "actor-critics")
    + "\n\n"
    + (f"Command: `{spec.command}`\n\n" if spec.command else "")
    + (_PIXEL_PREAMBLE if pixels else _PREAMBLE)
  )


def declare(spec: ContinuousSpec) -> str:
  """Writes the report's heading, `declaration(spec)` and `PENDING` (nothing trains);
  returns the report's path."""
  folder = os.path.dirname(os.path.abspath(spec.report))
  os.makedirs(folder, exist_ok=True)
  notes = results.kept_notes(spec.report)
  with open(spec.report, "w", encoding="utf-8") as f:
    f.write(_heading(spec) + declaration(spec) + "\n" + PENDING + "\n" + notes)
  return spec.report


def run(spec: ContinuousSpec) -> str:
  """Runs the study and writes its results file (heading, declaration, a section per grid);
  returns its path.

  Raises:
    ValueError: runs remain to train and this process' `XLA_FLAGS` lacks one of the study's
      `xla_flags` (its runs would round otherwise than its finished ones).
  """
  _check_xla_flags(spec)
  return _write(spec, interim=False)


def _check_xla_flags(spec: ContinuousSpec) -> None:
  """Refuses to train the study's remaining runs in a process without its `xla_flags`."""
  missing = missing_xla_flags(spec.xla_flags)
  if not missing:
    return
  pending = [row for row in progress(spec) if len(row.finished) < row.seeds]
  if not pending:
    return  # the report reads finished runs only
  how = f"`{spec.command}`" if spec.command else "`python -m launchers.reproduce_all`"
  raise ValueError(
    f"The study trains its runs with XLA_FLAGS {' '.join(spec.xla_flags)!r}, which change "
    f"how they round (docs/notes/xla_threads.md); this process' XLA_FLAGS "
    f"{os.environ.get('XLA_FLAGS', '')!r} lacks {' '.join(missing)!r} and {len(pending)} "
    f"cells (first: {pending[0].network} on {pending[0].variant}) still train. Run it with "
    f"{how}, which starts the study's process with them, or set XLA_FLAGS before Python starts."
  )


def interim(spec: ContinuousSpec) -> str:
  """Writes the study's results file from the runs in `spec.runs` that have finished, while
  the rest trains elsewhere; returns its path. Each grid's tables, curves and Theorem 1
  numbers hold the cells (variant and arm) whose seeds have all finished with this code and
  config (`progress`); its comparisons are those between such cells, Holm-corrected over the
  whole declared family with the others at p = 1 (`compared_in_family`), and the report names
  the ones still to come. Reads the run records only (as `progress` does) and trains nothing;
  a seed's analysis missing from its record is measured from its saved models, as in `run`."""
  return _write(spec, interim=True)


def _write(spec: ContinuousSpec, interim: bool) -> str:
  folder = os.path.dirname(os.path.abspath(spec.report))
  os.makedirs(folder, exist_ok=True)
  sections: List[str] = [_grid_section(spec, grid, folder, interim) for grid in spec.grids]
  notes = results.kept_notes(spec.report)
  with open(spec.report, "w", encoding="utf-8") as f:
    f.write(_heading(spec) + declaration(spec) + "\n")
    f.write("\n".join(sections))
    f.write(notes)
  return spec.report


_PREAMBLE = """\
The actor-critic of `tf_equirl.agents.ac` (DrQ-v2 on states) with the networks of
`tf_equirl.networks.continuous`: `mlp`, `gcnn` (exactly equivariant actor, invariant
critic), `relaxed` (relaxed group convolutions, exact at initialisation), `rpp` (residual
pathway prior), on the original environments and their symmetry-breaking variants
(`tf_equirl/envs/breaking.py`). Evaluation protocol of Park et al. (2025), 5.1.

"""

# The seed's pixel runs: 600,000 frames (env steps, action repeat included) per run.
SEED_PIXEL_FRAMES = 600_000

_PIXEL_PREAMBLE = """\
The pixel agent of `tf_equirl.agents.ac.pixels` (DrQ-v2: random shifts of 4 pixels, the
critic's loss trains the encoder) on pictures drawn by `tf_equirl.envs.render`, with the
encoders of `tf_equirl.networks.pixel`: `cnn` (the seed's NonEquiv; plain convolutions, mlp
heads), `gcnn` (ExactEquiv: group convolutions on the image plane, equivariant actor,
invariant critic), `relaxed` (relaxed group convolutions, exact at initialisation) and `rpp`
(residual pathway prior), each encoder at the cnn's parameter count and feeding the heads of
its own kind. The original environment and its symmetry-breaking variants
(`tf_equirl/envs/breaking.py`); evaluation protocol of Park et al. (2025), 5.1.

"""
