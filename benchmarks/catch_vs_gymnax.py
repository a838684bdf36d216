"""tf_equirl's Catch-v0 against gymnax's Catch-bsuite, transition by transition.

  python benchmarks/catch_vs_gymnax.py

Steps every one of Catch's 675 (state, action) pairs (ball row 0-8, ball column, paddle
column, action) through tf_equirl's physics, outcome and observation and through gymnax's
`Catch.step_env` (PureJaxRL's environment, in the virtual environment of
../shared/bench/purejaxrl/setup.sh), and compares the next observation (flattened row-major,
as PureJaxRL's FlattenObservationWrapper does), the reward and the termination; then compares
the start states (ball in row 0 of a uniform column, paddle in column 2) and the episode
length under the no-op policy. Prints the number of mismatches (0 expected) and exits 1 on any.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

VENV = os.environ.get("PJR_VENV", "/tmp/purejaxrl-venv")

GYMNAX = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np
from gymnax.environments.bsuite.catch import Catch, EnvState
env = Catch(); params = env.default_params
pairs = json.loads(sys.stdin.read())
out = {"obs": [], "reward": [], "done": []}
key = jax.random.PRNGKey(0)
for br, bc, pc, a in pairs:
    s = EnvState(ball_x=jnp.int32(bc), ball_y=jnp.int32(br), paddle_x=jnp.int32(pc),
                 paddle_y=jnp.int32(9), prev_done=False, time=0)
    obs, s2, r, d, _ = env.step_env(key, s, jnp.int32(a), params)
    out["obs"].append(np.asarray(obs).reshape(-1).tolist())
    out["reward"].append(float(r)); out["done"].append(bool(d))
starts = set()
for k in range(200):
    obs, s = env.reset_env(jax.random.PRNGKey(k), params)
    starts.add((int(s.ball_y), int(s.ball_x), int(s.paddle_x)))
obs, s = env.reset_env(jax.random.PRNGKey(0), params)
length = 0
while True:
    obs, s, r, d, _ = env.step_env(key, s, jnp.int32(1), params); length += 1
    if bool(d): break
out["starts"] = sorted(starts); out["noop_length"] = length
print(json.dumps(out))
"""


def main():
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from tf_equirl.envs import catch  # pylint: disable=import-outside-toplevel
  pairs = [(br, bc, pc, a) for br in range(9) for bc in range(5) for pc in range(5)
           for a in range(3)]
  state = tf.constant([p[:3] for p in pairs], tf.int32)
  action = tf.constant([p[3] for p in pairs], tf.int32)
  nxt = catch.catch_physics(state, action)
  reward, done = catch.catch_outcome(state, action, nxt)
  ours = {"obs": catch.catch_observation(nxt).numpy(), "reward": reward.numpy(),
          "done": done.numpy()}
  proc = subprocess.run([f"{VENV}/bin/python", "-c", GYMNAX], input=json.dumps(pairs),
                        capture_output=True, text=True, check=True)
  theirs = json.loads(proc.stdout.strip().splitlines()[-1])
  bad = {"obs": int(np.sum(np.any(ours["obs"] != np.array(theirs["obs"]), axis=1))),
         "reward": int(np.sum(ours["reward"] != np.array(theirs["reward"]))),
         "done": int(np.sum(ours["done"] != np.array(theirs["done"])))}
  starts = sorted({(0, c, 2) for c in range(5)})
  print(f"{len(pairs)} (state, action) pairs: mismatching next observations {bad['obs']}, "
        f"rewards {bad['reward']}, terminations {bad['done']}")
  print(f"gymnax start states {theirs['starts']} (tf_equirl: {starts}); no-op episode length "
        f"{theirs['noop_length']} (tf_equirl: {catch.ROWS - 1})")
  same = (not any(bad.values()) and [tuple(s) for s in theirs["starts"]] == starts
          and theirs["noop_length"] == catch.ROWS - 1)
  print("identical" if same else "DIFFERENT")
  sys.exit(0 if same else 1)


if __name__ == "__main__":
  main()
