"""Regenerate the model zoo: `python -m launchers.build_zoo`.

For every zoo entry, trains PPO with the thesis configuration (launchers/train_ppo.py's
training, one seed), evaluates the greedy actor over 100 episodes on the TF environment,
and keeps the first seed (from --first_seed on) whose greedy mean return reaches the card's
threshold. Writes zoo/<env>/<network>_{actor,critic}.keras, zoo/manifest.json and the model
cards in zoo/README.md. The builder is tf_equirl.experiments.zoo_models: the flags are the
fields of its `ZooConfig`.
"""

from absl import app

from launchers import common
from tf_equirl.experiments import zoo_models

common.define_config_flags(
  zoo_models.ZooConfig, lower_bounds={"first_seed": 0, "max_tries": 1, "episodes": 1}
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = common.config_from_flags(zoo_models.ZooConfig)
  print(open(zoo_models.run(config)).read())


if __name__ == "__main__":
  app.run(main)
