"""Checks that a code change leaves PPO's learning unchanged: per-seed curves, bit for bit.

  # before the change (e.g. in a checkout of the old commit):
  python benchmarks/ppo_same_curves.py --save=/tmp/curves_before.npz
  # after it:
  python benchmarks/ppo_same_curves.py --compare=/tmp/curves_before.npz

Trains a few seeds of the MLP and G-CNN actors on CartPole-v1 (50,000 steps) and Catch-v0
(20,000 steps, the thesis' settings) and stores every per-iteration curve (the PureJaxRL
mean return, finished episodes and returns, the losses) plus a checksum of the final
weights. `--compare` prints, per run, whether every curve is identical to the stored one and
otherwise the largest difference; it exits with status 1 if any run differs.
"""

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from tf_equirl.agents.ppo import PPO, default_config  # noqa: E402

_SAVE = flags.DEFINE_string("save", None, "Write the curves to this .npz file.")
_COMPARE = flags.DEFINE_string("compare", None, "Compare against curves saved with --save.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per (environment, network): 0..N-1.")
_NETWORKS = flags.DEFINE_list("networks", ["mlp", "gcnn"], "Actor networks.")
_CARTPOLE_STEPS = flags.DEFINE_integer("cartpole_steps", 50_000, "CartPole env steps per run.")
_CATCH_STEPS = flags.DEFINE_integer("catch_steps", 20_000, "Catch env steps per run.")


def curves() -> dict:
  out = {}
  for env, steps in (("CartPole-v1", _CARTPOLE_STEPS.value), ("Catch-v0", _CATCH_STEPS.value)):
    for network in _NETWORKS.value:
      ppo = PPO(default_config(env, network=network, total_steps=steps))
      for seed in range(_SEEDS.value):
        result = ppo.train(seed=seed)
        prefix = f"{env}/{network}/{seed}/"
        out[prefix + "mean_return"] = result.mean_return
        out[prefix + "episodes"] = result.episodes
        out[prefix + "finished_return"] = result.finished_return
        for name, values in result.losses.items():
          out[prefix + name] = values
        out[prefix + "weights"] = np.array(
          [
            float(np.sum(np.abs(w)))
            for w in ppo.actor_model.get_weights() + ppo.critic_model.get_weights()
          ]
        )
        print(f"{prefix} final return {result.mean_return[-1]:.3f}", flush=True)
  return out


def main(argv):
  del argv
  if (_SAVE.value is None) == (_COMPARE.value is None):
    raise app.UsageError("Give exactly one of --save=FILE and --compare=FILE.")
  now = curves()
  if _SAVE.value:
    np.savez(_SAVE.value, **now)
    print(f"wrote {_SAVE.value}")
    return
  before = dict(np.load(_COMPARE.value))
  differ = 0
  runs = sorted({k.rsplit("/", 1)[0] for k in now})
  for run in runs:
    keys = [k for k in now if k.startswith(run + "/")]
    missing = [k for k in keys if k not in before]
    if missing:
      print(f"{run}: not in {_COMPARE.value}")
      differ += 1
      continue
    worst = {
      k.rsplit("/", 1)[1]: float(np.nanmax(np.abs(now[k] - before[k])))
      for k in keys
      if not np.array_equal(now[k], before[k], equal_nan=True)
    }
    if worst:
      differ += 1
      print(f"{run}: DIFFERS, largest differences {worst}")
    else:
      print(f"{run}: identical ({len(keys)} curves)")
  print(f"{len(runs) - differ} of {len(runs)} runs identical")
  sys.exit(1 if differ else 0)


if __name__ == "__main__":
  app.run(main)
