"""Regenerate the model zoo: `python -m launchers.build_zoo`.

For every zoo entry, trains PPO with the thesis configuration (launchers/train_ppo.py's
training, one seed), evaluates the greedy actor over 100 episodes on the TF environment,
and keeps the first seed (from --first_seed on) whose greedy mean return reaches the card's
threshold (CartPole 475, Catch 0.9; grid world 0.75 for the MLP, whose greedy returns were
0.69-0.78 over six seeds at 500k steps, and 0.9 for the D4 G-CNN). Writes
zoo/<env>/<network>_{actor,critic}.keras,
zoo/manifest.json and the model cards in zoo/README.md.
"""

import os

from absl import app, flags
import numpy as np

from tf_equirl import evaluation, results, zoo
from tf_equirl.agents.ppo import PPO, default_config
from tf_equirl.envs import make
from tf_equirl.params import count_params
from tf_equirl.testing import equivariance_error, invariant

_ONLY = flags.DEFINE_list("only", None, "Build only these entries (e.g. cartpole/gcnn).")
_FIRST_SEED = flags.DEFINE_integer("first_seed", 0, "First training seed to try.",
                                   lower_bound=0)
_MAX_TRIES = flags.DEFINE_integer("max_tries", 6, "Seeds to try per entry.", lower_bound=1)
_EPISODES = flags.DEFINE_integer("episodes", 100, "Evaluation episodes.", lower_bound=1)

# (zoo folder, environment, actor, training steps, greedy threshold)
ENTRIES = [
    ("cartpole", "CartPole-v1", "mlp", 500_000, 475.0),
    ("cartpole", "CartPole-v1", "gcnn", 500_000, 475.0),
    ("cartpole", "CartPole-v1", "symmetrizer", 500_000, 475.0),
    ("catch", "Catch-v0", "mlp", 40_000, 0.9),
    ("catch", "Catch-v0", "gcnn", 40_000, 0.9),
    # results/ppo_grid.md: the D4 G-CNN is near its best by 100k steps, the MLP far from it
    ("gridworld", "GridWorld-v0", "mlp", 500_000, 0.75),
    ("gridworld", "GridWorld-v0", "gcnn", 200_000, 0.9),
]
EVAL_SEED = zoo.EVAL_SEED


def probe_states(env_name: str) -> np.ndarray:
  """States for the equivariance check: 10,000 CartPole states inside the termination box,
  every non-terminal Catch observation (9 ball rows x 5 x 5 columns), or else 10,000 start
  states of the environment (the grid world: random layouts)."""
  if env_name not in ("CartPole-v1", "Catch-v0"):
    _, first = make(env_name).pure_reset(0, batch_size=10_000)
    return first.observation.numpy().reshape(10_000, -1).astype(np.float32)
  if env_name == "CartPole-v1":
    return np.random.default_rng(0).uniform([-2.4, -3, -0.21, -3], [2.4, 3, 0.21, 3],
                                            size=(10_000, 4)).astype(np.float32)
  states = []
  for ball_row in range(9):
    for ball_col in range(5):
      for paddle in range(5):
        grid = np.zeros((10, 5), np.float32)
        grid[ball_row, ball_col] = grid[9, paddle] = 1.0
        states.append(grid.reshape(-1))
  return np.stack(states)


def stats(returns: np.ndarray) -> dict:
  mean, two_se = results.mean_and_2se(returns)
  return {"mean": mean, "two_se": two_se, "episodes": int(returns.size)}


def build_entry(folder, env_name, network, steps, threshold):
  config = default_config(env_name, network=network, total_steps=steps)
  ppo = PPO(config)
  for seed in range(_FIRST_SEED.value, _FIRST_SEED.value + _MAX_TRIES.value):
    result = ppo.train(seed=seed)
    greedy = evaluation.evaluate_tf(ppo.actor_model, env_name, _EPISODES.value, greedy=True,
                                    seed=EVAL_SEED)
    print(f"{folder}/{network} seed {seed}: training return {result.mean_return[-10:].mean():.3f}"
          f", greedy evaluation {greedy.mean():.3f}", flush=True)
    if greedy.mean() >= threshold:
      break
  else:
    raise RuntimeError(f"{folder}/{network}: no seed in {_MAX_TRIES.value} tries reached "
                       f"{threshold}.")
  os.makedirs(os.path.join(zoo.zoo_dir(), folder), exist_ok=True)
  sym = ppo.symmetry
  states = probe_states(env_name)
  sampled = evaluation.evaluate_tf(ppo.actor_model, env_name, _EPISODES.value, greedy=False,
                                   seed=EVAL_SEED)
  gym_greedy = evaluation.evaluate_gymnasium(ppo.actor_model, env_name, _EPISODES.value,
                                             greedy=True, seed=EVAL_SEED)
  command = (f"python -m launchers.train_ppo --env={env_name} --network={network} "
             f"--seeds={seed} --total_steps={steps}")
  entries = {}
  for role, model in (("actor", ppo.actor_model), ("critic", ppo.critic_model)):
    name = f"{folder}/{network}_{role}"
    file = f"{folder}/{network}_{role}.keras"
    model.save(os.path.join(zoo.zoo_dir(), file))
    equivariant = network != "mlp" if role == "actor" else config.critic == "invariant"
    error = None
    if equivariant:
      out_rep = sym.action_rep if role == "actor" else invariant(sym.group)
      error = equivariance_error(model, states, sym.state_rep, out_rep)
    entry = {
        "file": file, "env": env_name, "network": network, "role": role,
        "critic": config.critic, "params": count_params(model),
        "seed": seed, "total_steps": int(result.env_steps[-1]), "command": command,
        "equivariance_error": error, "equivariance_states": int(len(states)),
        "threshold": threshold if role == "actor" else None,
    }
    if role == "actor":
      entry["evaluation"] = {"tf_greedy": stats(greedy), "tf_sampled": stats(sampled),
                             "gymnasium_greedy": stats(gym_greedy), "seed": EVAL_SEED}
    entries[name] = entry
  return entries


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  known = [f"{folder}/{network}" for folder, _, network, _, _ in ENTRIES]
  unknown = [name for name in _ONLY.value or () if name not in known]
  if unknown:
    raise app.UsageError(f"--only: unknown entries {unknown}; the zoo's entries are {known}.")
  for folder, env_name, network, steps, threshold in ENTRIES:
    if _ONLY.value and f"{folder}/{network}" not in _ONLY.value:
      continue
    zoo.update_manifest(build_entry(folder, env_name, network, steps, threshold))
  print(open(os.path.join(zoo.zoo_dir(), "README.md")).read())


if __name__ == "__main__":
  app.run(main)
