"""Builds the thesis' equivariant CartPole actor and checks it: `python -m launchers.demo`.

Prints the parameter count next to the 64-64 MLP baseline and the equivariance error over
random CartPole states, eagerly and under XLA.
"""

from absl import app, flags
import numpy as np
import tensorflow as tf

from tf_equirl.groups import MDPSymmetry, Representation, cyclic
from tf_equirl.layers import EquivariantLogits
from tf_equirl.params import count_params, match_width
from tf_equirl.testing import equivariance_error

STATES = flags.DEFINE_integer("states", 10_000, "Number of random states to check.")
SEED = flags.DEFINE_integer("seed", 0, "Seed of the weights and the states.")

keras = tf.keras


def cartpole_symmetry() -> MDPSymmetry:
  c2 = cyclic(2)
  return MDPSymmetry(c2, Representation(c2, [np.eye(4), -np.eye(4)], name="cartpole_state"),
                     Representation.from_permutations(c2, [[0, 1], [1, 0]], name="push"))


def odd_actor(symmetry: MDPSymmetry, width: int) -> keras.Model:
  """Thesis eq. 4.8-4.10: an odd tanh MLP without biases, then the equivariant head."""
  inp = keras.Input((symmetry.state_dim,))
  h = keras.layers.Dense(width, activation="tanh", use_bias=False)(inp)
  h = keras.layers.Dense(width, activation="tanh", use_bias=False)(h)
  sign = Representation(symmetry.group, [np.eye(width), -np.eye(width)], name="sign")
  return keras.Model(inp, EquivariantLogits(symmetry.action_rep, input_rep=sign)(h))


def mlp_actor(state_dim: int, num_actions: int, width: int = 64) -> keras.Model:
  inp = keras.Input((state_dim,))
  h = keras.layers.Dense(width, activation="tanh")(inp)
  h = keras.layers.Dense(width, activation="tanh")(h)
  return keras.Model(inp, keras.layers.Dense(num_actions)(h))


def main(argv):
  del argv
  keras.utils.set_random_seed(SEED.value)
  symmetry = cartpole_symmetry()
  mlp = mlp_actor(symmetry.state_dim, symmetry.num_actions)
  target = count_params(mlp)
  width, params = match_width(lambda w: odd_actor(symmetry, w), target, widths=range(8, 256))
  actor = odd_actor(symmetry, width)
  states = np.random.default_rng(SEED.value).uniform(
      [-2.4, -3.0, -0.21, -3.0], [2.4, 3.0, 0.21, 3.0], size=(STATES.value, 4)).astype(np.float32)
  eager = equivariance_error(actor, states, symmetry.state_rep, symmetry.action_rep)
  xla = equivariance_error(tf.function(actor, jit_compile=True), states, symmetry.state_rep,
                           symmetry.action_rep)
  print(f"CartPole symmetry: group {symmetry.group.name}, state rep -I on R^4, actions swapped")
  print(f"MLP actor (64-64 tanh):        {target} parameters")
  print(f"Equivariant actor (width {width}):  {params} parameters "
        f"({100 * (params - target) / target:+.1f} % vs MLP)")
  print(f"Equivariance error over {STATES.value} states: eager {eager:.2e}, XLA {xla:.2e}")


if __name__ == "__main__":
  app.run(main)
