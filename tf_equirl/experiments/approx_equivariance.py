"""Approximate equivariance: which actor copes with how much broken symmetry.

Beyond the thesis (whose actors are exactly equivariant, thesis 4.6): MLP, exact G-CNN,
relaxed G-CNN and residual-pathway (RPP) actors on the original CartPole and Catch and on
their symmetry-breaking variants (`tf_equirl.envs.breaking`), with the thesis' PPO settings
and checkpoints (Tables 4.2, 4.4).

Entry point: `run(ApproxSpec(grids=(env_grid("Catch-v0"), ...))) -> str`, the path of
`results/approximate_equivariance/README.md`, which `launchers/reproduce_approx.py` calls; it
does, per environment:

1. Train every actor of `spec.networks` (MLP, exact G-CNN, relaxed G-CNN, RPP; all with the
   thesis' MLP critic and PPO settings) for `spec.seeds` seeds on the original environment
   and on each symmetry-breaking variant (`tf_equirl.envs.breaking`) with
   `tf_equirl.runner.resume_experiment`. A configuration whose run record
   (`run.json`: same config, seeds and code) and actors exist is reused, and an
   interrupted one keeps its finished seeds, so a reproduction continues where it stopped.
2. Analyse each trained actor (`analyse_config`): its greedy return on the environment it
   was trained on, clean and under Gaussian observation noise added at test time; its
   measured equivariance error on the states it visits (the mean over states of
   `max_a |log pi(g a | g s) - log pi(a | s)|`, `tf_equirl.testing`), and the spread of its
   relaxed weights (`relaxed_weight_spread`).
3. Write `results/approximate_equivariance/README.md` (tables mean +- 2 SE and worst decile
   at the checkpoints, the targets with their numbers, the relaxed and RPP actors against
   the exact G-CNN and the MLP (`comparisons`), spread and error against strength, noise
   robustness) and one curves PNG per environment beside it.
4. Optionally (`spec.world_model_env`), `world_model_experiment`: MLP, exact and relaxed G-CNN
   transition models trained on datasets of a broken environment, error on seen and unseen
   actions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tf_agents.trajectories import time_step as ts

from tf_equirl import checks, envs, results, rng, runs
from tf_equirl.agents.ppo.config import default_config
from tf_equirl.envs.defaults import env_defaults
from tf_equirl.experiments._compare import at_step, checkpoint_label, comparisons_section
from tf_equirl.networks import builders
from tf_equirl.experiments._arms import run_in_fresh_process
from tf_equirl.runner import resume_experiment
from tf_equirl.testing import equivariance_error_by_element, relaxed_weight_spread

__all__ = [
  "EnvGrid",
  "ApproxSpec",
  "env_grid",
  "parse_variants",
  "variant_name",
  "train_config",
  "analyse_config",
  "run",
  "targets",
  "world_model_experiment",
  "comparisons",
]


NETWORKS = ("mlp", "gcnn", "relaxed", "rpp", "relaxed_centered")
# Grid names that are not network kinds: (kind, relaxed_parameterization).
NETWORK_KINDS = {"relaxed_centered": ("relaxed", "centered")}


@dataclasses.dataclass
class EnvGrid:
  """One environment's part of the experiment.

  Attributes:
    env: registered base name ("CartPole-v1", "Catch-v0").
    variants: `(breaking, strength)` pairs trained besides the original environment.
    total_steps: environment steps per run.
    checkpoints: steps at which the tables report (the first is the "early" one).
    noise_sigmas: standard deviations of the Gaussian observation noise at test time.
    eval_episodes: episodes per seed in the analysis.
    early: the early checkpoint of the targets on the broken variants (10k steps on both
      environments); must be one of `checkpoints`.
  """

  env: str
  variants: Tuple[Tuple[str, float], ...]
  total_steps: int
  checkpoints: Tuple[int, ...]
  noise_sigmas: Tuple[float, ...]
  eval_episodes: int = 64
  early: int = 10_000

  def __post_init__(self):
    checks.positive_int(f"EnvGrid {self.env}", "total_steps", self.total_steps)
    checks.positive_int(f"EnvGrid {self.env}", "eval_episodes", self.eval_episodes)
    for sigma in self.noise_sigmas:
      checks.non_negative_number(f"EnvGrid {self.env}", "noise_sigmas", sigma)
    if self.early not in self.checkpoints:
      raise ValueError(
        f"EnvGrid {self.env}: early={self.early} is not one of the checkpoints "
        f"{self.checkpoints}."
      )
    for breaking, strength in self.variants:
      envs.make(variant_name(self.env, breaking, strength))  # fails early on a bad variant


@dataclasses.dataclass
class ApproxSpec:
  """The whole experiment: environments, actors, seeds and where files go.

  Attributes:
    grids: one `EnvGrid` per environment.
    networks: the actors (`NETWORKS`).
    seeds: seeds per network and variant, 0..N-1.
    runs: folder of the per-seed outputs.
    results: folder of the results file and its figures.
    report: path of the results file (None:
      `<results>/approximate_equivariance/README.md`, the study's folder); the figures go
      beside it.
    command: the command line written into the results file.
    world_model_env: a broken variant for the world-model part (None: no such part).
    world_model_seeds, world_model_epochs: of the world-model part.
  """

  grids: Tuple[EnvGrid, ...]
  networks: Tuple[str, ...] = NETWORKS
  seeds: int = 32
  runs: str = "runs/approx"
  results: str = "results"
  report: Optional[str] = None
  command: str = ""
  world_model_env: Optional[str] = None  # a broken variant for the world-model part
  world_model_seeds: int = 3
  world_model_epochs: int = 30

  def __post_init__(self):
    for name in ("seeds", "world_model_seeds", "world_model_epochs"):
      checks.positive_int("ApproxSpec", name, getattr(self, name))
    unknown = [n for n in self.networks if n not in NETWORKS]
    if not self.networks or unknown:
      raise ValueError(
        f"ApproxSpec.networks must be some of {NETWORKS}, received " f"{self.networks!r}."
      )


def parse_variants(items: Sequence[str]) -> Tuple[Tuple[str, float], ...]:
  """`["global:0.5", "reflect:1"]` -> `(("global", 0.5), ("reflect", 1.0))`.

  Raises:
    ValueError: an item does not read `breaking:strength` with a numeric strength.
  """
  out = []
  for item in items:
    breaking, _, strength = item.partition(":")
    try:
      out.append((breaking, float(strength)))
    except ValueError:
      raise ValueError(
        f"variant {item!r} must read breaking:strength, e.g. " "global:0.5"
      ) from None
  return tuple(out)


def env_grid(
  env: str,
  variants: Optional[Sequence[str]] = None,
  total_steps: Optional[int] = None,
  noise_sigmas: Optional[Sequence[float]] = None,
) -> EnvGrid:
  """The `EnvGrid` of `env` from its defaults (`tf_equirl.envs.defaults`: variants, steps,
  checkpoints, noise), each replaced where given. Checkpoints beyond `total_steps` are
  dropped; the early checkpoint of the targets is 10k steps where that is one of them.

  Raises:
    ValueError: `env` is not part of the study, or a value is out of range.
  """
  grid = env_defaults(env).approx
  if grid is None:
    raise ValueError(
      f"{env!r} has no approximate-equivariance defaults "
      "(tf_equirl.envs.defaults); expected Catch-v0 or CartPole-v1."
    )
  steps = grid.total_steps if total_steps is None else total_steps
  checkpoints = tuple(c for c in grid.checkpoints if c <= steps) or (steps,)
  return EnvGrid(
    env,
    parse_variants(grid.variants if variants is None else variants),
    steps,
    checkpoints,
    tuple(grid.noise_sigmas if noise_sigmas is None else noise_sigmas),
    early=10_000 if 10_000 in checkpoints else checkpoints[0],
  )


def variant_name(env: str, breaking: Optional[str], strength: float) -> str:
  """`make`'s name for a variant: `"Catch-v0:global:0.5"`, or `env` for the original."""
  return env if breaking in (None, "none") else f"{env}:{breaking}:{strength:g}"


def _config(env_name: str, network: str, total_steps: int):
  """PPO config of one actor of the grid; `network` is a kind, or `relaxed_centered` (the
  relaxed network with centered relaxed weights, `tf_equirl.layers.relaxed`)."""
  base = env_name.split(":")[0]
  kind, parameterization = NETWORK_KINDS.get(network, (network, "direct"))
  # hidden="group_conv": the exact G-CNN is the relaxed and RPP networks with exact layers
  # (CartPole's exact G-CNN is the thesis' odd network whatever `hidden` says).
  cfg = default_config(
    base,
    network=kind,
    total_steps=total_steps,
    hidden="group_conv",
    relaxed_parameterization=parameterization,
  )
  return dataclasses.replace(cfg, env=env_name)


def _finished(out: str, config, seeds: List[int]) -> bool:
  return runs.load_finished_run(out, config, seeds) is not None and all(
    os.path.exists(os.path.join(out, f"seed_{s}", "actor.keras")) for s in seeds
  )


def _resume(config, seeds: List[int], out: str, checkpoints: List[int]) -> None:
  resume_experiment(
    config,
    seeds,
    out,
    checkpoints=checkpoints,
    progress=False,
    tensorboard=False,
    save_models=True,
  )


def train_config(
  env_name: str,
  network: str,
  seeds: Sequence[int],
  total_steps: int,
  checkpoints: Sequence[int],
  out: str,
) -> Dict:
  """Trains (or reuses) one configuration; returns curves, steps and summary."""
  config = _config(env_name, network, total_steps)
  seeds = list(seeds)
  if not _finished(out, config, seeds):
    start = time.perf_counter()
    # in a process of its own: the study trains dozens of configurations, and XLA keeps
    # every compiled program for the life of a process
    run_in_fresh_process(_resume, (config, seeds, out, list(checkpoints)), f"{env_name} {network}")
    print(
      f"trained {env_name} {network}: {len(seeds)} seeds in "
      f"{time.perf_counter() - start:.0f} s",
      flush=True,
    )
  steps, curves, counts = runs.load_finished_run(out, config, seeds)
  return {
    "curves": curves,
    "env_steps": steps,
    "parameter_counts": counts,
    "summary": results.summarize(curves, steps, checkpoints),
  }


# ------------------------------------------------------------------------ analysis
class _Evaluator:
  """One compiled greedy evaluation loop per configuration; weights change per seed."""

  def __init__(
    self, env_name: str, actor: keras.Model, episodes: int, record_every: int, records: int
  ):
    self.env = envs.make(env_name, batch_size=episodes)
    self.actor, self.episodes = actor, episodes
    self.record_every, self.records = record_every, records
    limit = self.env.max_episode_steps or 10_000
    self.max_steps = limit
    self.play = tf.function(self._play, jit_compile=True, reduce_retracing=True)

  def _play(self, sigma, seed):
    env, b = self.env, self.episodes
    state, step = env.pure_reset(seed)
    key = tf.stack([seed, tf.constant(0x0B5, tf.int64)])
    obs_dim = step.observation.shape[-1]
    seen = tf.zeros([self.records, b, obs_dim])

    def body(t, state, obs, returns, done, seen):
      noise = sigma * rng.normal(tf.shape(obs), rng.fold_in(key, t))
      logits = self.actor(obs + noise)
      action = tf.argmax(logits, axis=-1, output_type=tf.int32)
      slot = tf.minimum(t // self.record_every, self.records - 1)
      record = tf.logical_and(t % self.record_every == 0, t // self.record_every < self.records)
      # Record the clean observation of episodes still running (finished ones read as zeros).
      row = tf.where(
        tf.logical_and(record, tf.logical_not(done))[:, None], obs, tf.gather(seen, slot)
      )
      seen = tf.tensor_scatter_nd_update(seen, [[slot]], row[None])
      state, step = env.pure_step(state, action)
      returns += tf.where(done, 0.0, step.reward)
      done = tf.logical_or(done, tf.equal(step.step_type, ts.StepType.LAST))
      return t + 1, state, step.observation, returns, done, seen

    _, _, _, returns, _, seen = tf.while_loop(
      lambda t, s, o, r, d, a: tf.logical_and(t < self.max_steps, tf.logical_not(tf.reduce_all(d))),
      body,
      (
        tf.constant(0, tf.int64),
        state,
        step.observation,
        tf.zeros([b]),
        tf.zeros([b], tf.bool),
        seen,
      ),
    )
    # Slots never written (episodes shorter than records * record_every) read as zeros.
    return returns, tf.reshape(seen, [-1, obs_dim])


def _cached(path: str, key: Dict) -> Optional[Dict]:
  """The analysis cached in the JSON file `path` if it was made with `key`, else None."""
  if not os.path.exists(path):
    return None
  with open(path) as f:
    cached = json.load(f)
  return cached if cached.get("key") == key else None


def analyse_config(
  out: str,
  env_name: str,
  network: str,
  seeds: Sequence[int],
  noise_sigmas: Sequence[float],
  episodes: int = 64,
) -> Dict:
  """Per seed: clean and noisy greedy returns, equivariance error, relaxed-weight spread.

  Cached in `out/analysis.json` (recomputed if the seeds or sigmas differ).
  """
  path = os.path.join(out, "analysis.json")
  key = {"seeds": list(seeds), "sigmas": list(noise_sigmas), "episodes": episodes}
  cached = _cached(path, key)
  if cached is not None:
    return cached
  env = envs.make(env_name)
  symmetry = env.symmetry
  kind, parameterization = NETWORK_KINDS.get(network, (network, "direct"))
  actor = builders.build_actor(
    kind, symmetry, hidden="group_conv", relaxed_parameterization=parameterization
  )
  catch = env_name.startswith("Catch")
  evaluator = _Evaluator(
    env_name, actor, episodes, record_every=1 if catch else 8, records=9 if catch else 32
  )
  log_policy = lambda x: tf.nn.log_softmax(actor(x))
  rows = []
  for seed in seeds:
    saved = keras.models.load_model(os.path.join(out, f"seed_{seed}", "actor.keras"), compile=False)
    actor.set_weights(saved.get_weights())
    row: Dict[str, Any] = {"seed": int(seed)}
    for sigma in (0.0, *noise_sigmas):
      returns, seen = evaluator.play(
        tf.constant(sigma, tf.float32), tf.constant(1000 + seed, tf.int64)
      )
      row[f"return_sigma_{sigma:g}"] = float(np.mean(returns.numpy()))
      if sigma == 0.0:
        states = seen.numpy()
        states = states[np.any(states != 0, axis=1)]
    per_element = equivariance_error_by_element(
      log_policy, tf.constant(states), symmetry.state_rep, symmetry.action_rep
    )
    row["equivariance_error"] = float(np.max(per_element[1:]))
    row["spread"] = relaxed_weight_spread(actor)
    rows.append(row)
  analysis = {"key": key, "rows": rows}
  results.write_json(path, analysis)
  return analysis


def _stat(rows: List[Dict], field: str) -> Tuple[float, float]:
  return results.mean_and_2se(np.array([r[field] for r in rows]))


def _spread_stats(rows: List[Dict]) -> str:
  if not rows or not rows[0]["spread"]:
    return "-"
  parts = []
  for name in rows[0]["spread"]:
    mean, two_se = results.mean_and_2se(np.array([r["spread"][name] for r in rows]))
    short = ("lift" if "lift" in name else "conv") + ("/free" if "free" in name else "")
    parts.append(f"{short} {mean:.3f} +- {two_se:.3f}")
  return ", ".join(parts)


# ------------------------------------------------------------------------ targets
def _diff(a: Dict, b: Dict) -> Tuple[float, float]:
  """Difference of means a - b and two standard errors of the difference."""
  return a["mean"] - b["mean"], float(np.hypot(a["two_se"], b["two_se"]))


def targets(summaries: Dict[str, Dict[str, List[Dict]]], original: str, early: int) -> List[str]:
  """Lines saying, with numbers, whether each target of the study holds.

  Original environment: the relaxed actor within 2 SE (of the difference) of the exact
  G-CNN at every checkpoint. Broken variants, at the checkpoint `early`: relaxed ahead
  of the exact G-CNN (mean above; significant if by more than 2 SE of the difference) and
  not behind the MLP (mean not below the MLP's by more than 2 SE of the difference).
  """
  lines = []
  for variant, nets in summaries.items():
    if not {"gcnn", "mlp"} <= set(nets):
      continue
    for relaxed in (n for n in ("relaxed", "relaxed_centered") if n in nets):
      lines.append(_target_line(variant, nets, relaxed, variant == original, early))
  return lines


def _target_line(
  variant: str, nets: Dict[str, List[Dict]], relaxed: str, original: bool, early: int
) -> str:
  if original:
    ok_all = True
    cells = []
    for r, g in zip(nets[relaxed], nets["gcnn"]):
      d, se = _diff(r, g)
      ok = abs(d) <= se
      ok_all &= ok
      cells.append(f"{r['step']:,}: {d:+.3f} +- {se:.3f} ({'ok' if ok else 'MISSED'})")
    return (
      f"- {variant} (original): {relaxed} - gcnn within 2 SE at every checkpoint: "
      f"**{'met' if ok_all else 'missed'}** ({'; '.join(cells)})."
    )
  at = [r["step"] for r in nets[relaxed]].index(early)
  d_g, se_g = _diff(nets[relaxed][at], nets["gcnn"][at])
  d_m, se_m = _diff(nets[relaxed][at], nets["mlp"][at])
  ahead = d_g > 0
  not_behind = d_m >= -se_m
  return (
    f"- {variant}, {early:,} steps: {relaxed} - gcnn = {d_g:+.3f} +- "
    f"{se_g:.3f} (ahead: **{'met' if ahead else 'missed'}**"
    f"{', significant' if d_g > se_g else ', not significant' if ahead else ''}); "
    f"{relaxed} - mlp = {d_m:+.3f} +- {se_m:.3f} (not behind: "
    f"**{'met' if not_behind else 'missed'}**)."
  )


# ------------------------------------------------------------------ world models
WORLD_MODELS = ("mlp", "gcnn", "relaxed")


def world_model_experiment(
  env_name: str,
  expert_path: str,
  out: str,
  seeds: int = 3,
  epochs: int = 30,
  num_transitions: int = 20_000,
) -> Dict:
  """MLP, exact and relaxed G-CNN transition models (mean pooling) on a broken environment.

  Datasets (`tf_equirl.models.make_datasets`, seed 0): `joint` (half expert, half random
  actions), `left` (its action-0 part) and a validation set; the expert is the Keras actor
  at `expert_path`. Each model is trained on each dataset for `epochs` epochs with the
  thesis' settings, once per initialisation seed; the validation RMS per action tells the
  error on seen (action 0) and, for `left`, unseen (action 1) actions. Cached in `out`.
  """
  from tf_equirl.models.data import DataConfig, make_datasets
  from tf_equirl.models.networks import build_transition_model
  from tf_equirl.models.spec import TransitionSpec
  from tf_equirl.models.training import TrainConfig, TransitionTrainer

  key = {
    "env": env_name,
    "expert": expert_path,
    "seeds": seeds,
    "epochs": epochs,
    "num_transitions": num_transitions,
  }
  cached = _cached(out, key)
  if cached is not None:
    return cached
  env = envs.make(env_name)
  spec = TransitionSpec.for_env(env)
  expert = keras.models.load_model(expert_path, compile=False)
  data = make_datasets(
    env, expert, 0, DataConfig(num_transitions=num_transitions, num_validation=4000)
  )
  validation = data["validation"]
  assert env.num_actions is not None  # CartPole and Catch have discrete actions
  splits = {f"a{a}": validation["action"] == a for a in range(env.num_actions)}
  rows: List[Dict[str, Any]] = []
  for model_name in WORLD_MODELS:
    for dataset in ("joint", "left"):
      for seed in range(seeds):
        keras.utils.set_random_seed(seed)
        model = build_transition_model(model_name, spec, pool="mean")
        trainer = TransitionTrainer(model, spec, TrainConfig(epochs=epochs, seed=seed))
        last = trainer.fit(data[dataset], validation, validation_splits=splits)[-1]
        rows.append(
          {
            "model": model_name,
            "dataset": dataset,
            "seed": seed,
            "params": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
            **{k: float(v) for k, v in last.items() if k.endswith("rms")},
          }
        )
        print(
          f"world model {model_name} on {dataset}, seed {seed}: "
          f"{ {k: round(v, 5) for k, v in rows[-1].items() if k.endswith('rms')} }",
          flush=True,
        )
  analysis = {"key": key, "rows": rows}
  results.write_json(out, analysis)
  return analysis


def _world_model_section(env_name: str, expert_path: str, analysis: Dict) -> str:
  rows = analysis["rows"]
  key = analysis["key"]
  out = [
    f"## World models on {env_name}\n",
    f"Transition models with mean pooling (exact G-CNN, relaxed G-CNN with 2 kernels per "
    f"layer) and the MLP, parameter-matched, trained {key['epochs']} epochs with the "
    f"thesis' settings on `tf_equirl.models` datasets of the broken environment "
    f"({key['num_transitions']:,} transitions in `joint`, its action-0 part in `left`, "
    f"4,000 validation transitions; expert `{expert_path}`). Validation RMS per state "
    f"component, mean +- 2 SE over {key['seeds']} initialisation seeds; on `left` the "
    f"right push (action 1) was never seen.\n",
    "| model | params | trained on | RMS, all | RMS, action 0 (left) | RMS, action 1 (right) |",
    "|---|---|---|---|---|---|",
  ]
  for model in WORLD_MODELS:
    for dataset in ("joint", "left"):
      sel = [r for r in rows if r["model"] == model and r["dataset"] == dataset]
      cells = []
      for field in ("val_rms", "val_a0_rms", "val_a1_rms"):
        m, se = results.mean_and_2se(np.array([r[field] for r in sel]))
        cells.append(f"{m:.4f} +- {se:.4f}")
      out.append(f"| {model} | {sel[0]['params']} | {dataset} | " + " | ".join(cells) + " |")
  out.append("")
  return "\n".join(out)


# ------------------------------------------------------------------------ the run
def run(spec: ApproxSpec) -> str:
  """Runs the whole experiment and writes the results file; returns its path."""
  seeds = list(range(spec.seeds))
  path = spec.report or os.path.join(spec.results, "approximate_equivariance", "README.md")
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  sections = []
  for grid in spec.grids:
    variants = [(None, 0.0)] + list(grid.variants)
    summaries: Dict[str, Dict[str, Any]] = {}
    analyses: Dict[str, Dict[str, Any]] = {}
    curves: Dict[str, Dict[str, np.ndarray]] = {}
    counts: Dict[str, Any] = {}
    steps: Optional[np.ndarray] = None
    for breaking, strength in variants:
      name = variant_name(grid.env, breaking, strength)
      summaries[name], analyses[name], curves[name] = {}, {}, {}
      for network in spec.networks:
        out = os.path.join(spec.runs, name.replace(":", "_"), network)
        trained = train_config(name, network, seeds, grid.total_steps, grid.checkpoints, out)
        summaries[name][network] = trained["summary"]
        curves[name][network] = trained["curves"]
        counts[network] = trained["parameter_counts"]
        steps = trained["env_steps"]
        analyses[name][network] = analyse_config(
          out, name, network, seeds, grid.noise_sigmas, grid.eval_episodes
        )["rows"]
    if steps is None:  # ApproxSpec checks that `networks` is not empty
      raise ValueError(
        f"ApproxSpec.networks must name at least one network, received " f"{spec.networks!r}."
      )
    png = os.path.join(folder, f"approximate_equivariance_{grid.env.split('-')[0].lower()}.png")
    results.plot_curve_panels(
      png, curves, steps, title=f"{grid.env}: PPO actors on the original and broken variants"
    )
    sections.append(_section(grid, summaries, analyses, counts, os.path.basename(png), spec.seeds))
    sections.append(comparisons(grid, curves, steps, seeds))
  if spec.world_model_env:
    # The expert is seed 0's MLP actor trained on the same variant in the grid above.
    expert = os.path.join(
      spec.runs, spec.world_model_env.replace(":", "_"), "mlp", "seed_0", "actor.keras"
    )
    if not os.path.exists(expert):
      raise ValueError(
        f"world_model_env={spec.world_model_env!r}: no trained expert at "
        f"{expert}; include that variant and the mlp network in the grid."
      )
    analysis = world_model_experiment(
      spec.world_model_env,
      expert,
      os.path.join(spec.runs, "world_models.json"),
      spec.world_model_seeds,
      spec.world_model_epochs,
    )
    sections.append(_world_model_section(spec.world_model_env, expert, analysis))
  notes = results.kept_notes(path)
  with open(path, "w") as f:
    f.write("# Approximate equivariance: relaxed and RPP actors on broken symmetries\n\n")
    f.write(f"Command: `{spec.command}`\n\n" if spec.command else "")
    f.write(_PREAMBLE)
    f.write("\n".join(sections))
    f.write(notes)
  return path


def comparisons(
  grid: EnvGrid, curves: Dict[str, Dict[str, np.ndarray]], steps: np.ndarray, seeds: Sequence[int]
) -> str:
  """The comparisons table of one environment: on every variant, each relaxed and RPP actor
  against the exact G-CNN and against the MLP, at the early checkpoint and the last one
  (`tf_equirl.stats.compare`, paired over seeds, Holm's correction across the table).

  Args:
    grid: the environment's grid.
    curves: variant -> network -> per-seed curves [seeds, iterations].
    steps: the curves' environment steps.
    seeds: the seeds of the curves' rows.
  """
  points = sorted({grid.early, grid.checkpoints[-1]})
  values, pairs, arm_seeds = {}, [], {}
  for variant, nets in curves.items():
    for step in points:
      for network in nets:
        label = checkpoint_label(f"{network} on {variant}", step)
        values[label] = at_step(nets[network], steps, step)
        arm_seeds[label] = list(seeds)[: len(values[label])]
      for network in (n for n in nets if n not in ("gcnn", "mlp")):
        pairs += [
          (
            checkpoint_label(f"{network} on {variant}", step),
            checkpoint_label(f"{ref} on {variant}", step),
          )
          for ref in ("gcnn", "mlp")
          if ref in nets
        ]
  return comparisons_section(
    values,
    pairs,
    arm_seeds,
    heading=f"### {grid.env}: relaxed and RPP actors against the exact " "G-CNN and the MLP",
    what="episodic return during training",
  )


_PREAMBLE = """\
Actors: `mlp` (64-64 tanh), `gcnn` (exact G-CNN: CartPole's odd network, Catch's
GroupLift-GroupConv-EquivariantLogits), `relaxed` (RelaxedGroupLift-RelaxedGroupConv with 2
kernels, EquivariantLogits; `relaxed_centered`: the same with the relaxed weights stored as a
mean plus a centered deviation, see `tf_equirl.layers.relaxed`), `rpp` (ResidualGroupLift-ResidualGroupConv, unconstrained paths
decayed by 1e-3 per step); every actor parameter-matched to the MLP and trained with the
thesis' MLP critic and PPO settings. Variants: see `tf_equirl/envs/breaking.py`. Returns are
PureJaxRL's metric (each environment's last finished episode, averaged over the iteration);
cells are mean +- 2 standard errors over seeds, worst-decile cumulative mean in brackets.
Targets: "within 2 SE" and "not behind" use 2 standard errors of the difference of the two
means, `2 sqrt(SE_a^2 + SE_b^2)`.

"""


def _section(grid: EnvGrid, summaries, analyses, counts, png: str, seeds: int) -> str:
  original = grid.env
  out = [
    f"## {grid.env}\n",
    f"{seeds} seeds per cell, {grid.total_steps:,} environment steps per run, "
    f"checkpoints {', '.join(f'{c:,}' for c in grid.checkpoints)}.\n",
    "| network | actor params | critic params |",
    "|---|---|---|",
  ]
  out += [f"| {n} | {c['actor']} | {c['critic']} |" for n, c in counts.items()]
  out.append("")
  for variant, nets in summaries.items():
    out.append(f"### {variant}{' (original)' if variant == original else ''}\n")
    out.append(results.markdown_summary(nets))
  out.append(f"![curves]({png})\n")
  out.append("### Targets\n")
  out += targets(summaries, original, grid.early)
  out.append("")
  out.append("### What the trained actors learned about the symmetry\n")
  out.append(
    "Greedy policy of each seed's final actor on the environment it was trained on. "
    "Equivariance error: mean over the states the clean greedy policy visits of "
    "`max_a |log pi(g a | g s) - log pi(a | s)|` for the flip g (nats). Spread: "
    "std over the group of each relaxed kernel's weights over their mean "
    "(`relaxed_weight_spread`; for rpp `free`, |V| / |exact kernel|). Mean +- 2 SE "
    "over seeds.\n"
  )
  out.append("| variant | network | equivariance error | relaxed spread / free ratio |")
  out.append("|---|---|---|---|")
  for variant, nets in analyses.items():
    for network, rows in nets.items():
      e, se = _stat(rows, "equivariance_error")
      out.append(f"| {variant} | {network} | {e:.3f} +- {se:.3f} | {_spread_stats(rows)} |")
  out.append("")
  sigmas = grid.noise_sigmas
  out.append("### Robustness to Gaussian observation noise at test time\n")
  out.append(
    f"Greedy return of the final actors over {grid.eval_episodes} episodes per seed, "
    "noise N(0, sigma^2) added to every observation entry the actor sees (the "
    "environment itself is unchanged). Mean +- 2 SE over seeds.\n"
  )
  out.append("| variant | network | " + " | ".join(f"sigma={s:g}" for s in (0.0, *sigmas)) + " |")
  out.append("|---|---|" + "---|" * (len(sigmas) + 1))
  for variant, nets in analyses.items():
    for network, rows in nets.items():
      cells = []
      for s in (0.0, *sigmas):
        m, se = _stat(rows, f"return_sigma_{s:g}")
        cells.append(f"{m:.3f} +- {se:.3f}")
      out.append(f"| {variant} | {network} | " + " | ".join(cells) + " |")
  out.append("")
  return "\n".join(out)
