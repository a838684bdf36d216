"""Reproduce thesis Tables 4.2 (CartPole) and 4.4 (Catch) across many seeds.

  python -m launchers.reproduce_ppo --env=CartPole-v1 --seeds=128
  python -m launchers.reproduce_ppo --env=Catch-v0 --seeds=128
  python -m launchers.reproduce_ppo --seeds=128 --backend=ray --address=auto   # on a cluster

Trains every network of --networks for --seeds seeds (runs/ keeps the per-seed CSVs and
models) and writes results/ppo_<env>.md with the table, the thesis' numbers beside it, the
parameter counts, the throughput and this command, plus results/ppo_<env>.png (Fig. 4.3 style).
"""

import os
import sys

from absl import app, flags

from tf_equirl import results
from tf_equirl.agents.ppo import PRESETS, default_config
from tf_equirl.agents.ppo.experiment import DEFAULT_CHECKPOINTS, run_experiment
from tf_equirl.networks import ACTOR_KINDS, CRITIC_KINDS

_ENV = flags.DEFINE_enum("env", "CartPole-v1", ["CartPole-v1", "Catch-v0"], "Environment.")
_SEEDS = flags.DEFINE_integer("seeds", 32, "Seeds per network (0..N-1).")
_NETWORKS = flags.DEFINE_list("networks", None, "Actor networks, each optionally with a critic "
                              "as actor:critic (e.g. gcnn:invariant). Default: mlp, symmetrizer, "
                              "gcnn for CartPole; mlp, gcnn for Catch, as in the thesis; critics "
                              "default to the thesis' MLP.")
_PRESET = flags.DEFINE_enum("preset", None, sorted(PRESETS), "Named PPO settings instead of "
                            "the thesis' printed ones (tf_equirl.agents.ppo.PRESETS); use "
                            "another --results folder to keep the thesis-settings tables.")
_RUNS = flags.DEFINE_string("runs", "runs/reproduce", "Folder for per-seed outputs.")
_RESULTS = flags.DEFINE_string("results", "results", "Folder for the markdown table and plot.")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide progress bars.")
_BACKEND = flags.DEFINE_enum("backend", "local", ["local", "ray"], "local: one process trains "
                              "the seeds one after another; ray: the seeds run as Ray Tune trials "
                              "(tf_equirl.sweeps), locally or on --address.")
_ADDRESS = flags.DEFINE_string("address", None, "--backend=ray: Ray cluster to join (auto or "
                               "HOST:PORT); default Ray on this machine.")
_SEEDS_PER_TRIAL = flags.DEFINE_integer("seeds_per_trial", 16, "--backend=ray: seeds per trial "
                                        "(one worker and one compiled graph each).")
_RESUME = flags.DEFINE_bool("resume", True, "Reuse a network's finished runs (summary.json with "
                            "the same config and seeds, and every seed's CSV) instead of "
                            "training it again, e.g. after an interrupted reproduction.")


def run_on_ray(config, seeds, out):
  """The seeds of `config` as Ray Tune trials; a finished or interrupted sweep in `out` resumes."""
  from tf_equirl import sweeps
  from tf_equirl.agents.ppo import PPO
  env_steps, curves = sweeps.run_config_on_ray(
      config, seeds, out, seeds_per_trial=_SEEDS_PER_TRIAL.value, address=_ADDRESS.value,
      resume=_RESUME.value, checkpoints=DEFAULT_CHECKPOINTS[config.env])
  return env_steps, curves, PPO(config).parameter_counts()


# thesis Table 4.2 (CartPole) and Table 4.4 (Catch): mean +- 2 SE over 128 seeds.
THESIS = {
    "CartPole-v1": {"mlp": ["102 +- 5", "260 +- 10", "497 +- 1"],
                    "symmetrizer": ["116 +- 6", "240 +- 10", "500 +- 1"],
                    "gcnn": ["158 +- 8", "330 +- 10", "499 +- 1"]},
    "Catch-v0": {"mlp": ["-0.51 +- 0.07", "0.70 +- 0.06", "0.875 +- 0.04"],
                 "gcnn": ["-0.06 +- 0.09", "0.95 +- 0.03", "0.96 +- 0.02"]},
}


def main(argv):
  del argv
  env = _ENV.value
  networks = _NETWORKS.value or (["mlp", "symmetrizer", "gcnn"] if env == "CartPole-v1"
                                 else ["mlp", "gcnn"])
  for n in networks:
    actor, _, critic = n.partition(":")
    if actor not in ACTOR_KINDS or critic not in ("",) + tuple(CRITIC_KINDS):
      raise app.UsageError(f"Unknown network {n!r}; expected an actor in {ACTOR_KINDS}, "
                           f"optionally ':' and a critic in {CRITIC_KINDS}.")
  seeds = list(range(_SEEDS.value))
  summaries, curves, lines = {}, {}, []
  for network in networks:
    actor, _, critic = network.partition(":")
    config = default_config(env, preset=_PRESET.value, network=actor, critic=critic or "mlp")
    out = os.path.join(_RUNS.value, f"{env}_{network.replace(':', '_')}")
    done = results.load_finished_run(out, config, seeds) if _RESUME.value else None
    if _BACKEND.value == "ray":
      env_steps, curves[network], counts = run_on_ray(config, seeds, out + "_ray")
    elif done is None:
      result = run_experiment(config, seeds, out, progress=not _NO_PROGRESS.value,
                              tensorboard=False, save_models=False)
      env_steps, curves[network], counts = result.env_steps, result.curves, result.parameter_counts
    else:
      print(f"{network}: reusing the finished runs in {out}")
      env_steps, curves[network], counts = done
    summaries[network] = results.summarize(curves[network], env_steps,
                                           DEFAULT_CHECKPOINTS[env])
    lines.append(f"| {network} | {counts['actor']} | {counts['critic']} | "
                 f"{counts['actor'] + counts['critic']} |")
  short = "cartpole" if env == "CartPole-v1" else "catch"
  os.makedirs(_RESULTS.value, exist_ok=True)
  png = os.path.join(_RESULTS.value, f"ppo_{short}.png")
  results.plot_curves(png, curves, env_steps,
                      title=f"{env}: PPO, {len(seeds)} seeds per network")
  command = "python -m launchers.reproduce_ppo " + " ".join(sys.argv[1:])
  thesis = THESIS[env]
  checkpoints = DEFAULT_CHECKPOINTS[env]
  listed = [n for n in thesis if n in networks]
  thesis_rows = ["| env steps | " + " | ".join(listed) + " |", "|---|" + "---|" * len(listed)]
  for j, step in enumerate(checkpoints):
    thesis_rows.append(f"| {step:,} | " + " | ".join(thesis[n][j] for n in listed) + " |")
  md_path = os.path.join(_RESULTS.value, f"ppo_{short}.md")
  notes = results.kept_notes(md_path)
  with open(md_path, "w") as f:
    f.write(f"# PPO on {env}: equivariant vs MLP actors\n\n")
    f.write(f"Command: `{command.strip()}`\n\n")
    f.write(f"Mean episodic return +- 2 standard errors over {len(seeds)} seeds "
            "(seeds 0..N-1); in brackets the worst-decile cumulative mean. The return is\n"
            "PureJaxRL's metric: each environment's last finished episodic return, averaged "
            "over the steps and environments of the iteration that reaches the step count.\n\n")
    f.write(results.markdown_summary(summaries))
    f.write(f"\nThesis (Table {'4.2' if env == 'CartPole-v1' else '4.4'}, 128 seeds):\n\n")
    f.write("\n".join(thesis_rows) + "\n\n")
    f.write("| network | actor params | critic params | total |\n"
            "|---|---|---|---|\n" + "\n".join(lines) + "\n\n")
    f.write("Training throughput is measured separately on a quiet machine: "
            "`python benchmarks/ppo_throughput.py` (README, Throughput).\n\n")
    f.write(f"![curves]({os.path.basename(png)})\n")
    f.write(notes)
  print(open(os.path.join(_RESULTS.value, f"ppo_{short}.md")).read())


if __name__ == "__main__":
  app.run(main)
