"""Studies that reproduce the thesis' results (and go beyond them), one module per study.

Each study has a typed config, an entry point `run(config) -> str` that trains what its run
folders do not hold yet, analyses it and returns the path of the results file it wrote, and
the pieces its launcher and tests call:

* `ppo_tables`: many-seed PPO comparisons of actor networks (thesis Tables 4.2, 4.4; the grid
  world's group ladder), `launchers/reproduce_ppo.py`.
* `dyna_tables`: Supervised-Dyna and online Dyna across seeds (thesis Tables 4.5, 4.6,
  4.8 and Fig. 4.11), `launchers/reproduce_dyna.py`.
* `transition_study`: transition models on fixed datasets (thesis 4.7.5-4.7.6, Figs. 4.6,
  4.7, 4.9), `launchers/analyze_transition.py`.
* `approx_equivariance`: relaxed and residual-pathway actors on symmetry-breaking variants,
  `launchers/reproduce_approx.py`.
* `zoo_models`: the model zoo's PPO actors and critics with their cards (`run` returns the
  cards' path), `launchers/build_zoo.py`.
* `ppo_gaps`: why PPO differs from the thesis' tables, one hypothesis at a time,
  `launchers/reproduce_ppo_gaps.py`.
* `runtime_study`: the PPO tables under XLA's two CPU runtimes.
* `dyna_controlled`: does Equi-Dyna beat PPO? Declared arms and comparisons,
  `launchers/reproduce_dyna_controlled.py`.
* `continuous_study` (with `symmetry_gap`): continuous control under exact and broken
  symmetry.
* `prae_study` (with `prae_baselines`): learned MDP homomorphisms by data budget, model and
  task, with PPO and Supervised-Dyna at the same real transitions,
  `launchers/reproduce_prae.py`.

`registry` holds one `Study` per results folder `results/<name>/` (the launcher command, seeds,
budgets, full and quick configs) and writes each report with its provenance;
`launchers/reproduce_all.py` runs it.

The studies sit on top of the library (`tf_equirl.runner`, `tf_equirl.sweeps`, the agents and
models) and nothing in the library imports them.
"""

import importlib

_STUDIES = ("ppo_tables", "dyna_tables", "transition_study", "approx_equivariance", "zoo_models")


def __getattr__(name):
  if name in _STUDIES:
    return importlib.import_module(f"tf_equirl.experiments.{name}")
  raise AttributeError(f"module 'tf_equirl.experiments' has no attribute {name!r}")


__all__ = list(_STUDIES)
