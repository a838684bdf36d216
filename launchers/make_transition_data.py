"""Collect the transition datasets of thesis 4.7.5-4.7.6 into data/ (git-ignored).

  python -m launchers.make_transition_data --env=CartPole-v1 --seed=0
  python -m launchers.make_transition_data --env=Catch-v0 --seed=0

Writes `data/transitions/<env>/seed_<seed>/{joint,left,random,validation}.npz` and
`meta.json` (format: `tf_equirl.models.data`). The expert is a zoo actor (default
`cartpole/mlp_actor`, `catch/mlp_actor`) or a `.keras` file; it acts by sampling from its
logits (PPO's stochastic policy; `--greedy_expert` takes the argmax), the random policy
draws actions uniformly. Collection runs inside compiled loops on the TF environments.
"""

import sys
import time

import numpy as np
from absl import app, flags

from launchers import common

from tf_equirl import envs, zoo
from tf_equirl.envs.defaults import TRANSITION_ENVS, env_defaults
from tf_equirl.models import data as data_lib

_ENV = flags.DEFINE_enum("env", "CartPole-v1", list(TRANSITION_ENVS), "Environment.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of every collection.", lower_bound=0)
_EXPERT = flags.DEFINE_string(
  "expert",
  None,
  "Zoo name or .keras path of the expert actor "
  "(default: cartpole/mlp_actor or catch/mlp_actor).",
)
# One flag per DataConfig field; --num_transitions defaults to the environment's
# (tf_equirl.envs.defaults: the thesis' 40,000 for CartPole, 400,000 for Catch).
common.define_config_flags(
  data_lib.DataConfig,
  defaults={"num_transitions": None},
  lower_bounds={"num_transitions": 2, "num_validation": 2, "num_envs": 2},
)
_DATA_DIR = flags.DEFINE_string("data_dir", "data", "Root of the datasets.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  env_name = _ENV.value
  defaults = env_defaults(env_name)
  expert_name = _EXPERT.value or defaults.transition_expert
  config = common.config_from_flags(
    data_lib.DataConfig,
    **({} if flags.FLAGS.num_transitions else {"num_transitions": defaults.transition_samples}),
  )
  try:
    expert = zoo.load_any(expert_name)
  except ValueError as e:
    raise app.UsageError(str(e))
  common.check_output_folder(_DATA_DIR.value, "data_dir")
  env = envs.make(env_name, batch_size=1, seed=0)
  start = time.time()
  splits = data_lib.make_datasets(env, expert, _SEED.value, config)
  out = data_lib.dataset_dir(_DATA_DIR.value, env_name, _SEED.value)
  for name, split in splits.items():
    data_lib.save_split(out, name, split)
  meta = {
    "env": env_name,
    "seed": _SEED.value,
    "expert": expert_name,
    "greedy_expert": config.greedy_expert,
    "command": "python -m " "launchers.make_transition_data " + " ".join(sys.argv[1:]),
    "sizes": {k: int(len(v["action"])) for k, v in splits.items()},
    "terminal_fraction": {k: float(np.mean(v["terminated"])) for k, v in splits.items()},
    "seconds": round(time.time() - start, 1),
  }
  data_lib.write_meta(out, meta)
  print(
    f"wrote {out}: "
    + ", ".join(f"{k} {n:,}" for k, n in meta["sizes"].items())
    + f" ({meta['seconds']} s)"
  )


if __name__ == "__main__":
  app.run(main)
