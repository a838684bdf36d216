"""How the initialisation gains of the actor change PPO's learning
(results/ppo_catch/thesis_gaps.md, (b)).

  python benchmarks/init_gains.py --env=Catch-v0 --network=gcnn --head_gain=1.0 --seeds=32
  python benchmarks/init_gains.py --env=Catch-v0 --network=gcnn --hidden_gain=1.0 --seeds=32 \\
      --learning_rate=2.5e-3

A diagnostic, not a library option: the networks are built with PureJaxRL's orthogonal gains
(sqrt 2 for hidden layers, 0.01 for the actor head); this script replaces those constants of
`tf_equirl.networks.builders` for one run (the hidden gain applies to actor and critic
hidden layers alike) and prints the table of `launchers.train_ppo` at the thesis' checkpoints.
"""

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tf_equirl import results  # noqa: E402
from tf_equirl.agents.ppo import default_config  # noqa: E402
from tf_equirl.runner import run_experiment  # noqa: E402
from tf_equirl.networks import ACTOR_KINDS, builders  # noqa: E402

_ENV = flags.DEFINE_enum("env", "Catch-v0", ["CartPole-v1", "Catch-v0"], "Environment.")
_NETWORK = flags.DEFINE_enum("network", "gcnn", list(ACTOR_KINDS), "Actor network.")
_SEEDS = flags.DEFINE_integer("seeds", 32, "Seeds 0..N-1.")
_HEAD_GAIN = flags.DEFINE_float(
  "head_gain", None, "Orthogonal gain of the actor head " "(default PureJaxRL's 0.01)."
)
_HIDDEN_GAIN = flags.DEFINE_float(
  "hidden_gain", None, "Orthogonal gain of the hidden layers " "(default PureJaxRL's sqrt 2)."
)
_LEARNING_RATE = flags.DEFINE_float("learning_rate", None, "Adam step (default the thesis').")


def main(argv):
  del argv
  if _HEAD_GAIN.value is not None:
    builders._ACTOR_HEAD_GAIN = _HEAD_GAIN.value  # pylint: disable=protected-access
  if _HIDDEN_GAIN.value is not None:
    builders._HIDDEN_GAIN = _HIDDEN_GAIN.value  # pylint: disable=protected-access
  overrides = {} if _LEARNING_RATE.value is None else {"learning_rate": _LEARNING_RATE.value}
  config = default_config(_ENV.value, network=_NETWORK.value, **overrides)
  result = run_experiment(
    config, range(_SEEDS.value), progress=False, tensorboard=False, save_models=False
  )
  print(
    f"head gain {builders._ACTOR_HEAD_GAIN}, hidden gain "  # pylint: disable=protected-access
    f"{builders._HIDDEN_GAIN:.3g}, learning rate {config.learning_rate}"
  )
  print(results.markdown_summary({config.network: result.summary}))


if __name__ == "__main__":
  app.run(main)
