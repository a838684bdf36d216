"""Transition models on fixed datasets: the study of thesis 4.7.5-4.7.6 (Figs. 4.6, 4.7, 4.9).

Entry point: `run(TransitionStudyConfig(env="CartPole-v1", epochs=30, seeds=3)) -> str`, the
path of `results/transition_<short>/README.md`, which `launchers/analyze_transition.py`
calls. For one environment, for every seed, dataset (joint, left, random) and model (MLP, G-CNN with
proximal pooling, G-CNN with mean pooling) it trains what `config.runs_dir` does not hold yet
(a cell's seeds together in one compiled program, `tf_equirl.models.seed_batch.train_together`;
with `vectorize_seeds=False` one after another, `tf_equirl.models.train_one`), then writes

* `transition_<short>_curves.png`: validation RMS (CartPole, Fig. 4.6) or validation loss and
  accuracy (Catch, Fig. 4.9) against epochs, one panel per dataset;
* `transition_cartpole_angle.png`: final validation RMS by pole angle (Fig. 4.7);
* the equivariance rate (thesis 4.7.4) of untrained models over `equivariance_seeds`
  initialisations and of every trained model, on all 675 Catch state-action pairs or on
  the 10,000 CartPole validation pairs;
* this environment's section of its report (`report_path`, between generated markers; the
  rest of the file is left as it is), with the figures beside it.

With `config.ship_to_zoo`, `to_zoo` copies the seed-0 models trained on `joint` into the zoo
(all three models); `ship_run` puts one run's model there (`launchers/train_transition.py
--zoo`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import tensorflow as tf

from tf_equirl import checks, envs, results, zoo
from tf_equirl.envs.defaults import TRANSITION_ENVS, env_defaults
from tf_equirl.models.analysis import (
  all_state_action_pairs,
  binned_rms,
  equivariance_rate,
  prediction_equivariance_rate,
)
from tf_equirl.models.data import DATASETS, SPLITS, dataset_dir, load_split
from tf_equirl.models.networks import EquivariantTransitionModel, MLPTransitionModel
from tf_equirl.models.seed_batch import train_together
from tf_equirl.models.spec import TransitionSpec
from tf_equirl.models.training import TrainConfig, label, run_folder, train_one

__all__ = [
  "TransitionStudyConfig",
  "run",
  "run_study",
  "check_datasets",
  "train_grid",
  "plot_curves",
  "angle_analysis",
  "equivariance",
  "section",
  "write_section",
  "to_zoo",
  "zoo_entry",
  "ship_run",
  "ZOO_KINDS",
  "report_path",
]


@dataclasses.dataclass
class TransitionStudyConfig:
  """What `run_study` trains and where it writes.

  Attributes:
    env: environment with a transition preset ("CartPole-v1", "Catch-v0").
    epochs: training epochs of every model.
    seeds: initialisation seeds 0..N-1 per (model, dataset).
    equivariance_seeds: untrained initialisations for the equivariance rate.
    equivariance_atol: a pair counts as equivariant when its relative error is at most this
      (a finite number >= 0).
    data_seed: seed the datasets were made with (`launchers.make_transition_data --seed`).
    data_dir: root of the datasets.
    runs_dir: root of the run folders (`<runs_dir>/<env>/<model>_<dataset>/seed_<k>`).
    results_dir: the root of the results folders.
    report: path of the report (None: `<results_dir>/transition_<short>/README.md`, the
      study's folder); this environment's section is written into it (the rest of the file
      is left as it is) and the figures go beside it.
    retrain: retrain runs that already exist with the same epochs.
    vectorize_seeds: train the seeds of a (model, dataset) cell together as one compiled
      program (`tf_equirl.models.seed_batch`; each seed equals its lone run up to float
      rounding); False trains them one after another (`train_one`).
    progress: show progress bars while training.
    ship_to_zoo: also put the seed-0 models trained on `joint` into the zoo (`to_zoo`).
    command: the command line written into the report.
  """

  env: str = "CartPole-v1"
  epochs: int = 30
  seeds: int = 1
  equivariance_seeds: int = 1000
  equivariance_atol: float = 1e-5
  data_seed: int = 0
  data_dir: str = "data"
  runs_dir: str = os.path.join("runs", "transition")
  results_dir: str = "results"
  report: Optional[str] = None
  retrain: bool = False
  vectorize_seeds: bool = True
  progress: bool = True
  ship_to_zoo: bool = False
  command: str = "python -m launchers.analyze_transition"

  def __post_init__(self):
    if self.env not in TRANSITION_ENVS:
      raise ValueError(
        f"TransitionStudyConfig.env must be one of {list(TRANSITION_ENVS)}, "
        f"received {self.env!r}."
      )
    for name in ("epochs", "seeds", "equivariance_seeds"):
      checks.positive_int("TransitionStudyConfig", name, getattr(self, name))
    checks.non_negative_int("TransitionStudyConfig", "data_seed", self.data_seed)
    checks.non_negative_number("TransitionStudyConfig", "equivariance_atol", self.equivariance_atol)
    checks.check_float_fields(self)  # any other float field: finite


MODELS = (("mlp", "mean"), ("gcnn", "proximal"), ("gcnn", "mean"))
LABELS = [label(m, p) for m, p in MODELS]
NICE = {
  "mlp": "MLP",
  "gcnn_proximal": "G-CNN proximal",
  "gcnn_mean": "G-CNN mean",
  "gcnn_proximal_printed": "G-CNN proximal, eq. 4.33 as printed (0.13 on the paddle)",
  "gcnn_proximal_unweighted": "G-CNN proximal, unweighted eq. 4.33",
}


def _register_distance_variants():
  """The two other readings of thesis eq. 4.33, to compare their tie rates."""
  from tf_equirl.layers import register_distance
  from tf_equirl.layers.distances import CATCH_BALL_WEIGHT, catch_mode_terms

  def printed(reference, candidates):
    ball, paddle = catch_mode_terms(reference, candidates)
    return ball + CATCH_BALL_WEIGHT * paddle

  def unweighted(reference, candidates):
    ball, paddle = catch_mode_terms(reference, candidates)
    return ball + paddle

  register_distance("catch_mode_l1_printed", printed, overwrite=True)
  register_distance("catch_mode_l1_unweighted", unweighted, overwrite=True)


ACTION_NAMES = {"CartPole-v1": ["left push", "right push"], "Catch-v0": ["left", "stay", "right"]}


def train_grid(config: TransitionStudyConfig):
  """`{(label, dataset): [run folder per seed]}`, training what is missing: a cell's seeds
  together (`train_together`) with `config.vectorize_seeds` and more than one to train, else
  one after another (`train_one`)."""
  env_name = config.env
  runs: Dict[Tuple[str, str], List[str]] = {}
  for dataset in DATASETS:
    for (model, pool), lab in zip(MODELS, LABELS):
      folders = [
        run_folder(config.runs_dir, env_name, model, pool, dataset, seed)
        for seed in range(config.seeds)
      ]
      fresh = [seed for seed, out in enumerate(folders) if _needs_training(config, out)]
      train = TrainConfig(epochs=config.epochs)
      if config.vectorize_seeds and len(fresh) > 1:
        print(f"training {lab} on {dataset}, seeds {fresh} together", flush=True)
        train_together(
          env_name,
          model,
          pool,
          dataset,
          {seed: folders[seed] for seed in fresh},
          train,
          config.data_dir,
          config.data_seed,
          progress=config.progress,
          commands={seed: train_command(config, model, pool, dataset, seed) for seed in fresh},
        )
      else:
        for seed in fresh:
          print(f"training {lab} on {dataset}, seed {seed}", flush=True)
          train_one(
            env_name,
            model,
            pool,
            dataset,
            folders[seed],
            dataclasses.replace(train, seed=seed),
            config.data_dir,
            config.data_seed,
            progress=config.progress,
            command=train_command(config, model, pool, dataset, seed),
          )
      runs[(lab, dataset)] = folders
  return runs


def _needs_training(config: TransitionStudyConfig, out: str) -> bool:
  """Whether run folder `out` lacks a finished run of `config.epochs` (or must be redone)."""
  summary = os.path.join(out, "summary.json")
  if not os.path.exists(summary) or config.retrain:
    return True
  with open(summary) as f:
    return json.load(f)["epochs"] != config.epochs


def train_command(
  config: TransitionStudyConfig, model: str, pool: str, dataset: str, seed: int
) -> str:
  return (
    f"python -m launchers.train_transition --env={config.env} --model={model} "
    f"--pool={pool} --dataset={dataset} --epochs={config.epochs} --seed={seed} "
    f"--data_seed={config.data_seed}"
  )


def _histories(folders):
  return [results.read_seed_csv(os.path.join(f, "history.csv")) for f in folders]


def _summaries(folders):
  out = []
  for f in folders:
    with open(os.path.join(f, "summary.json")) as fh:
      out.append(json.load(fh))
  return out


def _stat(values, digits=4):
  mean, two_se = results.mean_and_2se(np.asarray(values))
  return f"{mean:.{digits}f} +- {two_se:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def plot_curves(env_name: str, runs, path: str) -> None:
  plt = results.pyplot()

  continuous = env_name == "CartPole-v1"
  keys = (
    [("val_rms", "validation RMS")]
    if continuous
    else [
      ("val_loss", "validation loss (CE per transition)"),
      ("val_accuracy", "validation accuracy"),
    ]
  )
  fig, axes = plt.subplots(len(keys), 3, figsize=(14, 3.8 * len(keys)), squeeze=False)
  for j, dataset in enumerate(DATASETS):
    for i, (key, name) in enumerate(keys):
      ax = axes[i, j]
      for lab in LABELS:
        hs = _histories(runs[(lab, dataset)])
        curves = np.stack([h[key] for h in hs])
        epochs = hs[0]["epoch"]
        mean = curves.mean(axis=0)
        (line,) = ax.plot(epochs, mean, lw=2, label=f"{NICE[lab]} (mean of {len(hs)} seeds)")
        if len(hs) > 1:  # every seed, thin: a +-2 SE band has no meaning on a log axis
          for c in curves:
            ax.plot(epochs, c, lw=0.6, alpha=0.45, color=line.get_color())
      if key != "val_accuracy":
        ax.set_yscale("log")
      ax.set(xlabel="epoch", ylabel=name, title=f"trained on {dataset}")
      ax.grid(alpha=0.3)
      ax.legend(fontsize=8)
  fig.suptitle(f"{env_name} transition models; validation: 50/50 expert/random")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def angle_analysis(runs, validation, path: str):
  """Fig. 4.7: final validation RMS by pole angle (signed, degrees), mean over seeds."""
  plt = results.pyplot()

  keep = ~validation["terminated"]
  theta = np.degrees(validation["obs"][keep, 2])
  edges = np.arange(-12.0, 12.01, 1.0)
  centres = 0.5 * (edges[1:] + edges[:-1])
  table = {}
  fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), sharey=True)
  for ax, dataset in zip(axes, DATASETS):
    for lab in LABELS:
      per_seed, small = [], []
      for folder in runs[(lab, dataset)]:
        model = zoo.load_file(os.path.join(folder, "model.keras"))
        pred = model(
          [tf.constant(validation["obs"][keep]), tf.constant(validation["action"][keep])]
        ).numpy()
        rms, counts = binned_rms(pred, validation["next_obs"][keep], theta, edges)
        per_seed.append(rms)
        small.append(
          binned_rms(pred, validation["next_obs"][keep], np.abs(theta), [0.0, 5.0, 90.0])[0]
        )
      ax.plot(centres, np.nanmean(per_seed, axis=0), marker=".", label=NICE[lab])
      table[(lab, dataset)] = np.mean(small, axis=0)
    ax2 = ax.twinx()
    ax2.bar(centres, counts, width=0.9, alpha=0.12, color="gray")
    ax2.set_yticks([])
    ax.set(xlabel="pole angle (degrees)", title=f"trained on {dataset}", yscale="log")
    ax.grid(alpha=0.3)
  axes[0].set_ylabel("validation RMS (final epoch)")
  axes[0].legend(fontsize=8)
  fig.suptitle("CartPole: validation RMS by pole angle (grey: validation transitions per bin)")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return table


def equivariance(config: TransitionStudyConfig, env, spec, runs, validation):
  """Rates of untrained models over many seeds and of every trained model."""
  if spec.kind == "grid":
    pairs = all_state_action_pairs(env)
    obs, act = pairs["obs"], pairs["action"]
  else:
    obs, act = validation["obs"], validation["action"]
  atol = config.equivariance_atol
  builders: Dict[str, Union[MLPTransitionModel, EquivariantTransitionModel]] = {
    "mlp": MLPTransitionModel(),
    "gcnn_proximal": EquivariantTransitionModel(pool="proximal"),
    "gcnn_mean": EquivariantTransitionModel(pool="mean"),
  }
  if spec.kind == "grid":
    _register_distance_variants()
    builders["gcnn_proximal_printed"] = EquivariantTransitionModel(
      pool="proximal", distance="catch_mode_l1_printed"
    )
    builders["gcnn_proximal_unweighted"] = EquivariantTransitionModel(
      pool="proximal", distance="catch_mode_l1_unweighted"
    )
  untrained = {}
  for lab, builder in builders.items():
    start = time.time()
    rates, worst = [], 0.0
    for seed in range(config.equivariance_seeds):
      tf.keras.utils.set_random_seed(10_000 + seed)  # not a training seed
      rate, errors = equivariance_rate(builder.build(spec), spec, obs, act, atol)
      rates.append(rate)
      worst = max(worst, float(errors.max()))
    untrained[lab] = {"rates": np.array(rates), "worst": worst, "seconds": time.time() - start}
    print(f"untrained {lab}: {np.mean(rates):.4f} over {len(rates)} seeds", flush=True)
  trained = {}
  for (lab, dataset), folders in runs.items():
    rates, worst, modes = [], 0.0, []
    for folder in folders:
      model = zoo.load_file(os.path.join(folder, "model.keras"))
      rate, errors = equivariance_rate(model, spec, obs, act, atol)
      rates.append(rate)
      worst = max(worst, float(errors.max()))
      if spec.kind == "grid":
        modes.append(prediction_equivariance_rate(model, spec, obs, act))
    trained[(lab, dataset)] = {"rates": np.array(rates), "worst": worst, "modes": np.array(modes)}
  return len(obs), untrained, trained


def section(
  config: TransitionStudyConfig, spec, runs, validation, n_pairs, untrained, trained, angle, figures
) -> str:
  env_name = config.env
  continuous = spec.kind == "continuous"
  metric = "rms" if continuous else "accuracy"
  actions = ACTION_NAMES[env_name]
  summaries = {k: _summaries(v) for k, v in runs.items()}
  sizes = {d: summaries[(LABELS[0], d)][0]["train_size"] for d in DATASETS}
  lines = [
    f"<!-- BEGIN {env_name} (generated by launchers/analyze_transition.py; do not edit) -->",
    f"### {env_name}",
    "",
    f"Commands: `python -m launchers.make_transition_data --env={env_name} "
    f"--seed={config.data_seed}` then `{config.command}`.",
    "",
    "Training sets: "
    + ", ".join(f"{d} {n:,}" for d, n in sizes.items())
    + f" transitions; validation {len(validation['action']):,} (50/50 expert/random, "
    f"{int(validation['terminated'].sum())} terminal ones masked). "
    f"{config.epochs} epochs, Adam 1e-3, grad-norm clip 0.5, batch 64; "
    f"{config.seeds} initialisation seed(s) per cell (mean +- 2 SE where > 1).",
    "",
    "Parameters: "
    + ", ".join(f"{NICE[lab]} {summaries[(lab, DATASETS[0])][0]['params']:,}" for lab in LABELS)
    + ".",
    "",
  ]
  head = (
    "final validation RMS"
    if continuous
    else "final validation accuracy (ball and paddle both right)"
  )
  lines += [
    f"**{head}**, overall and by action taken:",
    "",
    "| model | trained on | all | "
    + " | ".join(actions)
    + " | all, mean of the last 5 epochs | train time (s) |",
    "|---|---|---|" + "---|" * len(actions) + "---|---|",
  ]
  for dataset in DATASETS:
    for lab in LABELS:
      s = summaries[(lab, dataset)]
      cells = [_stat([x["final"][f"val_{metric}"] for x in s])]
      cells += [_stat([x["final"][f"val_a{a}_{metric}"] for x in s]) for a in range(len(actions))]
      last5 = [np.mean(h[f"val_{metric}"][-5:]) for h in _histories(runs[(lab, dataset)])]
      cells.append(_stat(last5))
      secs = np.mean([x["seconds"] for x in s])
      lines.append(f"| {NICE[lab]} | {dataset} | " + " | ".join(cells) + f" | {secs:.0f} |")
  together = max(x.get("seeds_together", 1) for s in summaries.values() for x in s)
  if together > 1:
    lines += [
      "",
      f"Train time: wall seconds of the program that trained a cell's seeds together (up "
      f"to {together} seeds in one program, `tf_equirl.models.seed_batch`).",
    ]
  lines += ["", f"![curves]({os.path.basename(figures['curves'])})", ""]
  if angle is not None:
    lines += [
      "**Validation RMS near upright** (|theta| < 5 deg) and beyond (final epoch, mean "
      "over seeds):",
      "",
      "| model | trained on | abs(theta) < 5 deg | abs(theta) >= 5 deg |",
      "|---|---|---|---|",
    ]
    for dataset in DATASETS:
      for lab in LABELS:
        small, large = angle[(lab, dataset)]
        lines.append(f"| {NICE[lab]} | {dataset} | {small:.4f} | {large:.4f} |")
    lines += ["", f"![by angle]({os.path.basename(figures['angle'])})", ""]
  where = (
    "all 675 non-terminal state-action pairs"
    if not continuous
    else f"the {n_pairs:,} validation state-action pairs"
  )
  lines += [
    f"**Equivariance rate** on {where}: a pair counts when "
    f"`max_g |T(rho(g)s, pi(g)a) - rho_out(g)T(s,a)| <= {config.equivariance_atol:g} * max(1, "
    "max_i |T(s,a)_i|)` (relative, because trained Catch logits reach the hundreds). "
    f"Untrained: mean +- 2 SE (std, min) over {config.equivariance_seeds} initialisations; "
    "trained: mean over seeds, and the largest relative error seen.",
    "",
    "| model | untrained | trained on joint | left | random | max rel. error (trained) |",
    "|---|---|---|---|---|---|",
  ]
  for lab in untrained:
    u = untrained[lab]
    mean, two_se = results.mean_and_2se(100 * u["rates"])
    cells = [
      f"{mean:.2f} +- {two_se:.2f} % (std {100 * u['rates'].std(ddof=1):.2f}, "
      f"min {100 * u['rates'].min():.1f} %)"
    ]
    if lab in LABELS:
      cells += [f"{100 * trained[(lab, d)]['rates'].mean():.2f} %" for d in DATASETS]
      cells.append(f"{max(trained[(lab, d)]['worst'] for d in DATASETS):.2g}")
    else:
      cells += ["not trained"] * 3 + [""]
    lines.append(f"| {NICE[lab]} | " + " | ".join(cells) + " |")
  lines += [
    "",
    "Seconds for the untrained rates: "
    + ", ".join(f"{NICE[lab]} {u['seconds']:.0f}" for lab, u in untrained.items())
    + ".",
    "",
  ]
  if not continuous:
    lines += [
      "Trained models, rate at the level of the predicted next state (the grid drawn "
      "from the two modes, what a planner uses), exact equality:",
      "",
      "| model | joint | left | random |",
      "|---|---|---|---|",
    ]
    for lab in LABELS:
      lines.append(
        f"| {NICE[lab]} | "
        + " | ".join(f"{100 * trained[(lab, d)]['modes'].mean():.2f} %" for d in DATASETS)
        + " |"
      )
    lines.append("")
  lines += [f"<!-- END {env_name} -->"]
  return "\n".join(lines) + "\n"


def write_section(path: str, env_name: str, text: str) -> None:
  begin, end = f"<!-- BEGIN {env_name} ", f"<!-- END {env_name} -->"
  body = open(path).read() if os.path.exists(path) else "# Transition models (thesis 4.7)\n\n"
  if begin in body:
    start = body.index(begin)
    stop = body.index(end) + len(end) + 1
    body = body[:start] + text + body[stop:]
  else:
    body = body.rstrip("\n") + "\n\n" + text
  with open(path, "w") as f:
    f.write(body)


ZOO_KINDS = {"mlp": "mlp", "gcnn_mean": "gcnn", "gcnn_proximal": "gcnn_proximal"}
"""Run label -> zoo kind: `<env folder>/<kind>_transition` (`"cartpole/gcnn_transition"`)."""


def zoo_entry(
  env_name: str,
  spec: TransitionSpec,
  run: str,
  worst_error,
  n_pairs: int,
  data_seed: int,
  prediction_rate=None,
) -> tuple:
  """`(zoo name, manifest entry)` for the model trained in run folder `run`, copying its
  `model.keras` into the zoo. `worst_error` is its largest relative equivariance error over
  `n_pairs` state-action pairs (ignored for the MLP); `prediction_rate` (Catch) the fraction of
  those pairs whose predicted next grid transforms exactly, recorded in the card."""
  summary = _summaries([run])[0]
  lab = summary["model"]
  if lab not in ZOO_KINDS:
    raise ValueError(f"Run {run!r} holds a {lab!r} model; the zoo ships {sorted(ZOO_KINDS)}.")
  folder = env_defaults(env_name).require_zoo_folder()
  rel = f"{folder}/{ZOO_KINDS[lab]}_transition.keras"
  os.makedirs(os.path.join(zoo.zoo_dir(), folder), exist_ok=True)
  shutil.copyfile(os.path.join(run, "model.keras"), os.path.join(zoo.zoo_dir(), rel))
  final = summary["final"]
  metric = "rms" if spec.kind == "continuous" else "accuracy"
  metrics = {f"validation_{metric}": final[f"val_{metric}"]}
  metrics.update(
    {
      f"validation_{metric}_{name.replace(' ', '_')}": final[f"val_a{a}_{metric}"]
      for a, name in enumerate(ACTION_NAMES[env_name])
    }
  )
  if prediction_rate is not None:
    metrics["prediction_equivariance_rate"] = float(prediction_rate)
  pool = lab.split("_", 1)[1] if lab != "mlp" else None
  proximal = (
    "; proximal pooling (thesis 4.7.4) is approximately equivariant, the error "
    "above is measured, not guaranteed"
    if pool == "proximal"
    else ""
  )
  entry = {
    "file": rel,
    "env": env_name,
    "role": "transition",
    "network": "mlp" if pool is None else f"gcnn ({pool} pooling)",
    "params": summary["params"],
    "command": summary["command"],
    "seed": summary["seed"],
    "total_steps": summary["train_size"] * summary["epochs"],
    "equivariance_error": None if pool is None else float(worst_error),
    "equivariance_states": n_pairs,
    "metrics": metrics,
    "notes": (
      "inputs [observation float32 [B, d], action int32 [B]]; "
      + (
        "output: next observation"
        if spec.kind == "continuous"
        else "output: logits over the 50 ball cells then the 5 paddle columns"
      )
      + "; trained on the joint expert/random dataset (make_transition_data "
      f"--seed={data_seed}) with terminal transitions masked (eq. 4.30/4.32)"
      + (
        ""
        if spec.kind == "continuous"
        else ", so it never learned the ball's last drop and a rollout on it does not "
        "end by itself"
      )
      + proximal
      + "; use tf_equirl.models.model_dynamics(model, env) to step an environment "
      "with it. Results: "
      f"results/transition_{env_defaults(env_name).short_name}/README.md"
    ),
  }
  return f"{folder}/{ZOO_KINDS[lab]}_transition", entry


def to_zoo(config: TransitionStudyConfig, spec, runs, n_pairs, trained) -> None:
  """Ships the seed-0 models trained on `joint`: MLP, G-CNN with mean pooling and G-CNN with
  proximal pooling (`<env>/{mlp,gcnn,gcnn_proximal}_transition`)."""
  entries = {}
  for lab in ZOO_KINDS:
    eq = trained[(lab, "joint")]
    rate = float(eq["modes"][0]) if len(eq["modes"]) else None
    name, entry = zoo_entry(
      config.env, spec, runs[(lab, "joint")][0], eq["worst"], n_pairs, config.data_seed, rate
    )
    entries[name] = entry
  zoo.update_manifest(entries)
  print("zoo:", ", ".join(entries))


def ship_run(env_name: str, run: str, data_dir: str = "data", data_seed: int = 0) -> str:
  """Puts the model of one `train_one` run folder into the zoo after measuring its
  equivariance error (on all Catch state-action pairs, or on the CartPole validation pairs);
  returns its zoo name. `launchers.train_transition --zoo` calls this."""
  env = envs.make(env_name, batch_size=1)
  spec = TransitionSpec.for_env(env)
  if spec.kind == "grid":
    pairs = all_state_action_pairs(env)
  else:
    pairs = load_split(dataset_dir(data_dir, env_name, data_seed), "validation")
  obs, act = pairs["obs"], pairs["action"]
  model = zoo.load_file(os.path.join(run, "model.keras"))
  _, errors = equivariance_rate(model, spec, obs, act)
  rate = prediction_equivariance_rate(model, spec, obs, act) if spec.kind == "grid" else None
  name, entry = zoo_entry(env_name, spec, run, float(errors.max()), len(obs), data_seed, rate)
  zoo.update_manifest({name: entry})
  return name


def check_datasets(config: TransitionStudyConfig) -> None:
  """Raises a ValueError saying how to make them if the datasets `config` reads are missing."""
  folder = dataset_dir(config.data_dir, config.env, config.data_seed)
  missing = [name for name in SPLITS if not os.path.exists(os.path.join(folder, f"{name}.npz"))]
  if missing:
    raise ValueError(
      f"No transition datasets {missing} in {folder}; create them with "
      f"`python -m launchers.make_transition_data --env={config.env} "
      f"--seed={config.data_seed} --data_dir={config.data_dir}`."
    )


def report_path(config: TransitionStudyConfig) -> str:
  """The report `config` writes: `config.report`, else
  `<results_dir>/transition_<short>/README.md`."""
  short = env_defaults(config.env).short_name
  return config.report or os.path.join(config.results_dir, f"transition_{short}", "README.md")


def run(config: TransitionStudyConfig) -> str:
  """`run_study`; returns the path of the report (`report_path(config)`)."""
  run_study(config)
  return report_path(config)


def run_study(config: TransitionStudyConfig) -> str:
  """Trains what is missing, analyses, writes the figures and the report section; returns
  the section's text. With `config.ship_to_zoo` also puts the seed-0 joint models into the
  zoo.

  Raises:
    ValueError: the datasets are missing (`check_datasets`).
  """
  check_datasets(config)
  env = envs.make(config.env, batch_size=1)
  spec = TransitionSpec.for_env(env)
  validation = load_split(dataset_dir(config.data_dir, config.env, config.data_seed), "validation")
  runs = train_grid(config)
  short = env_defaults(config.env).short_name
  folder = os.path.dirname(os.path.abspath(report_path(config)))
  os.makedirs(folder, exist_ok=True)
  figures = {"curves": os.path.join(folder, f"transition_{short}_curves.png")}
  plot_curves(config.env, runs, figures["curves"])
  angle = None
  if spec.kind == "continuous":
    figures["angle"] = os.path.join(folder, f"transition_{short}_angle.png")
    angle = angle_analysis(runs, validation, figures["angle"])
  n_pairs, untrained, trained = equivariance(config, env, spec, runs, validation)
  text = section(config, spec, runs, validation, n_pairs, untrained, trained, angle, figures)
  write_section(report_path(config), config.env, text)
  if config.ship_to_zoo:
    to_zoo(config, spec, runs, n_pairs, trained)
  return text
