"""Reproduce the thesis' Supervised-Dyna tables (4.5, 4.6) and test Dyna's levers.

  python -m launchers.reproduce_dyna --env=CartPole-v1 --seeds=32
  python -m launchers.reproduce_dyna --env=Catch-v0 --seeds=32
  python -m launchers.reproduce_dyna --env=Catch-v0 --part=levers --seeds=16 --planning_ratios=2

`--part=supervised` trains the baseline, Dyna (MLP world model) and Equi-Dyna (G-CNN world
model, mean pooling; `--models=...,gcnn_proximal` adds the thesis' proximal pooling) with the
zoo's pretrained world models at every --planning_ratios and writes
results/dyna_<env>/README.md (+ dyna_<env>.png beside it). `--part=levers` trains online Dyna
with and without orbit-augmented model data, branched rollouts and a whole-run model buffer
and writes results/dyna_<env>_levers/README.md. `--part=online_grid` trains online Dyna over
--planning_ratios x --dyna_iterations for each of --models (thesis 4.8, Fig. 4.11) and writes
results/dyna_<env>_online/README.md with a matrix of plots. `--report` writes elsewhere;
`python -m launchers.reproduce_all --only=dyna_catch` regenerates a committed study with its
provenance. Finished configurations in --runs are
reused.

  python -m launchers.reproduce_dyna --env=Catch-v0 --part=online_grid --seeds=8 \
      --planning_ratios=0.5,1,2,4,8 --dyna_iterations=5,10,50,100

The study is tf_equirl.experiments.dyna_tables: the flags are the fields of its
`DynaTablesConfig`.
"""

from absl import app

from launchers import common
from tf_equirl.experiments import dyna_tables

STUDY = common.define_study_flags(
  dyna_tables.DynaTablesConfig,
  enums={"env": dyna_tables.DYNA_ENVS, "part": dyna_tables.PARTS},
  lower_bounds={"seeds": 1, "total_steps": 1, "model_epochs": 1, "horizon": 1},
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = STUDY.config(dyna_tables.DynaTablesConfig, "launchers.reproduce_dyna")
  print(open(dyna_tables.run(config)).read())


if __name__ == "__main__":
  STUDY.run(main)
