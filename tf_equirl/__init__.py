"""tf_equirl: symmetry-exploiting reinforcement learning in TensorFlow / Keras.

Conventions (used by every layer, environment and test in the package)
----------------------------------------------------------------------
* Group elements are the integers `0 .. |G|-1`; `group.table[g, h] = g * h`.
* A representation `rho` acts on the last axis of a state vector: `s -> rho(g) s`
  (`Representation.transform` is the one helper that applies it).
* Features "over the group" (regular features) have shape `[batch, |G|, channels]`.
  The group axis is axis 1 and `g` acts on it by the regular representation
  `(L_g f)[h] = f[g^-1 h]`, i.e. it permutes the group axis and leaves channels alone.
* The lifting layer therefore reads the input through `rho(h^-1)`:
  `f(s)[h] = W rho(h^-1) s`. Then `f(rho(g) s)[h] = W rho(h^-1 g) s = f(s)[g^-1 h]`,
  which is exactly `L_g f(s)`. (With `rho(h)` instead, `f(rho(g)s)[h] = f(s)[hg]`, a
  *right* action; the two agree only for abelian groups such as C2, which is why the
  thesis' eq. 4.13 can drop the inverse.)
* Regular -> regular layers use kernels `K[h, k] = W[h^-1 k]` (group correlation);
  heads onto discrete actions use `K[a, h] = w[h^-1 . a]`; transition images are
  mapped back with `rho(h)` before pooling. Each of these is derived in its layer's
  docstring from the rule above.
"""

from tf_equirl import groups, layers, params, testing
from tf_equirl.params import count_params, match_width
from tf_equirl.testing import assert_equivariant, equivariance_error

__version__ = "0.1.0"

# Heavier subpackages (tf-agents, gymnasium) load on first use: `tf_equirl.envs`, ...
_LAZY = (
  "envs",
  "networks",
  "agents",
  "results",
  "models",
  "zoo",
  "evaluation",
  "runner",
  "sweeps",
  "experiments",
  "prae",
)


def __getattr__(name):
  if name in _LAZY:
    import importlib

    return importlib.import_module(f"tf_equirl.{name}")
  raise AttributeError(f"module 'tf_equirl' has no attribute {name!r}")


__all__ = [
  "groups",
  "layers",
  "params",
  "testing",
  "count_params",
  "match_width",
  "assert_equivariant",
  "equivariance_error",
]
