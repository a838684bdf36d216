"""Continuous-action actors and twin critics: equivariance over several groups, widths matched
to the mlp, save/reload, and the errors for a symmetry of the wrong kind."""

import os
import subprocess
import sys

import numpy as np
import pytest
from tensorflow import keras

from tf_equirl import testing
from tf_equirl.groups import MDPSymmetry, Representation
from tf_equirl.groups.finite_group import cyclic, dihedral
from tf_equirl.groups.representation import direct_sum
from tf_equirl.networks import build_actor, build_critic
from tf_equirl.networks import continuous
from tf_equirl.networks.continuous import (
  EQUIVARIANT_KINDS,
  RegularToAction,
  build_continuous_actor,
  build_continuous_critic,
)
from tf_equirl.params import count_params


def _rotation(angle):
  return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def _character(group, a, b):
  """A sign character of the Klein group D2 (element `k + 2 m` is `r^k s^m`)."""
  return Representation(group, [[[(-1.0) ** (a * (i % 2) + b * (i // 2))]] for i in range(4)])


def pendulum_d1():
  """Pendulum's mirror: (cos, sin, thdot) -> (cos, -sin, -thdot), torque negated."""
  g = dihedral(1)
  state = Representation(g, [np.eye(3), np.diag([1.0, -1.0, -1.0])])
  return MDPSymmetry(g, state, Representation(g, [[[1.0]], [[-1.0]]]), continuous_actions=True)


def reacher_d2():
  """D2 on a 5-d state (sign characters and an invariant) and a 2-d action of two characters."""
  g = dihedral(2)
  chars = [_character(g, a, b) for a, b in ((0, 0), (1, 0), (0, 1), (1, 1), (1, 1))]
  action = direct_sum(_character(g, 0, 1), _character(g, 1, 1))
  return MDPSymmetry(g, direct_sum(*chars), action, continuous_actions=True)


def rotation_c4():
  """C4 rotating two planar vectors of the state and a 2-d action by quarter turns."""
  g = cyclic(4)
  planar = Representation(g, np.stack([_rotation(np.pi / 2 * k) for k in range(4)]))
  state = direct_sum(planar, planar, Representation.trivial(g, 1))
  return MDPSymmetry(g, state, planar, continuous_actions=True)


SYMMETRIES = {"D1": pendulum_d1, "D2": reacher_d2, "C4": rotation_c4}


def _batch(symmetry, n=12, seed=0):
  r = np.random.default_rng(seed)
  s = r.normal(size=(n, symmetry.state_dim)).astype(np.float32)
  a = r.uniform(-1, 1, size=(n, symmetry.action_dim)).astype(np.float32)
  return s, a


@pytest.mark.parametrize("group", sorted(SYMMETRIES))
@pytest.mark.parametrize("kind,num_kernels", [(k, 1) for k in EQUIVARIANT_KINDS] + [("relaxed", 2)])
def test_actor_equivariant_and_critic_invariant(group, kind, num_kernels):
  symmetry = SYMMETRIES[group]()
  s, a = _batch(symmetry)
  actor = build_continuous_actor(kind, symmetry, width=8, num_kernels=num_kernels)
  critic = build_continuous_critic(kind, symmetry, width=8, num_kernels=num_kernels)
  out = actor(s).numpy()
  assert out.shape == (12, symmetry.action_dim) and np.all(np.abs(out) <= 1.0)
  assert np.std(out) > 1e-3  # not a constant map, which would be trivially equivariant
  testing.assert_equivariant(actor, s, symmetry.state_rep, symmetry.action_rep, atol=1e-5)
  q = critic([s, a]).numpy()
  assert q.shape == (12, 2) and not np.allclose(q[:, 0], q[:, 1])  # independent twins
  testing.assert_equivariant(
    critic,
    [s, a],
    [symmetry.state_rep, symmetry.action_rep],
    testing.invariant(symmetry.group),
    atol=1e-5,
  )


@pytest.mark.parametrize("kind", ["mlp", "augment"])
def test_mlp_networks_are_not_equivariant(kind):
  """The checker can fail: the unconstrained networks break the mirror."""
  symmetry = pendulum_d1()
  s, a = _batch(symmetry)
  actor = build_continuous_actor(kind, symmetry, width=16)
  assert testing.equivariance_error(actor, s, symmetry.state_rep, symmetry.action_rep) > 1e-3
  critic = build_continuous_critic(kind, symmetry, width=16)
  err = testing.equivariance_error(
    critic, [s, a], [symmetry.state_rep, symmetry.action_rep], testing.invariant(symmetry.group)
  )
  assert err > 1e-3


def test_relaxed_actor_leaves_equivariance_when_its_weights_spread():
  """The relaxed weights are what can break the symmetry: spread them and the error grows."""
  symmetry = rotation_c4()
  s, _ = _batch(symmetry)
  actor = build_continuous_actor("relaxed", symmetry, width=8)
  for layer in actor.layers:
    if hasattr(layer, "relaxed_weights"):
      w = layer.relaxed_weights.numpy()
      layer.relaxed_weights.assign(w * np.linspace(0.5, 1.5, w.shape[0])[:, None])
  assert testing.equivariance_error(actor, s, symmetry.state_rep, symmetry.action_rep) > 1e-3


@pytest.mark.parametrize("kind", ["relaxed", "rpp"])
def test_layer_names_do_not_depend_on_what_was_built_before(kind):
  """Per-layer reports (the relaxed spread of the continuous study) key on layer names: the
  second build in a process must name its layers as the first did, not `..._1`."""
  symmetry = pendulum_d1()
  first = [
    build_continuous_actor(kind, symmetry, width=4),
    build_continuous_critic(kind, symmetry, width=4),
  ]
  second = [
    build_continuous_actor(kind, symmetry, width=4),
    build_continuous_critic(kind, symmetry, width=4),
  ]
  for a, b in zip(first, second):
    assert [layer.name for layer in a.layers] == [layer.name for layer in b.layers]
    spread = testing.relaxed_weight_spread(a)
    assert spread and list(spread) == list(testing.relaxed_weight_spread(b))
  assert {"lift", "hidden", "output"} <= {layer.name for layer in first[0].layers}
  assert {"q1_lift", "q2_lift"} <= {layer.name for layer in first[1].layers}


@pytest.mark.parametrize("kind", ["gcnn", "relaxed"])
def test_default_width_matches_mlp_parameters(kind):
  symmetry = pendulum_d1()
  mlp_actor = count_params(build_continuous_actor("mlp", symmetry))
  mlp_critic = count_params(build_continuous_critic("mlp", symmetry))
  actor = count_params(build_continuous_actor(kind, symmetry))
  critic = count_params(build_continuous_critic(kind, symmetry))
  assert abs(actor - mlp_actor) <= 0.1 * mlp_actor
  assert abs(critic - mlp_critic) <= 0.1 * mlp_critic


@pytest.mark.parametrize("kind", ["gcnn", "relaxed_centered", "rpp"])
def test_save_and_reload_in_safe_mode(kind, tmp_path):
  symmetry = rotation_c4()
  s, a = _batch(symmetry)
  for model, args in (
    (build_continuous_actor(kind, symmetry, width=4), s),
    (build_continuous_critic(kind, symmetry, width=4), [s, a]),
  ):
    path = str(tmp_path / f"{model.name}.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(args).numpy(), model(args).numpy(), atol=1e-6)


def test_saved_actor_loads_after_importing_tf_equirl_alone(tmp_path):
  """A saved gcnn actor needs only `import tf_equirl` to load (its layers are registered by the
  package's eager `layers` import), as a zoo model does."""
  symmetry = rotation_c4()
  s, _ = _batch(symmetry)
  actor = build_continuous_actor("gcnn", symmetry, width=4)
  path = str(tmp_path / "actor.keras")
  actor.save(path)
  np.save(tmp_path / "s.npy", s)
  np.save(tmp_path / "a.npy", actor(s).numpy())
  script = (
    "import sys, numpy as np, tf_equirl\n"
    "from tensorflow import keras\n"
    "assert 'tf_equirl.networks' not in sys.modules\n"
    "m = keras.models.load_model(sys.argv[1] + '/actor.keras', safe_mode=True)\n"
    "out = m(np.load(sys.argv[1] + '/s.npy')).numpy()\n"
    "np.testing.assert_allclose(out, np.load(sys.argv[1] + '/a.npy'), atol=1e-6)\n"
  )
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  proc = subprocess.run(
    [sys.executable, "-c", script, str(tmp_path)],
    capture_output=True,
    text=True,
    env=env,
    timeout=300,
  )
  assert proc.returncode == 0, proc.stderr[-2000:]


def test_regular_to_action_radial_squash_for_a_non_signed_permutation_rep():
  """C8 rotating a 2-d action by 45 degrees: tanh per entry would not commute, the radial
  squash does; asking for tanh is refused."""
  g = cyclic(8)
  rep = Representation(g, np.stack([_rotation(np.pi / 4 * k) for k in range(8)]))
  f = np.random.default_rng(0).normal(size=(5, 8, 2)).astype(np.float32) * 3
  layer = RegularToAction(rep)
  testing.assert_equivariant(layer, f, g, rep, atol=1e-5)
  assert np.all(np.linalg.norm(layer(f).numpy(), axis=1) < 1.0)
  with pytest.raises(ValueError, match="signed permutation"):
    RegularToAction(rep, squash="tanh")
  with pytest.raises(ValueError, match=r"\[batch, 8, 2\]"):
    layer2 = RegularToAction(rep)
    layer2(np.zeros((5, 4, 2), np.float32))


def _discrete_symmetry():
  g = dihedral(1)
  return MDPSymmetry(
    g,
    Representation(g, [np.eye(2), -np.eye(2)]),
    Representation.from_permutations(g, [[0, 1], [1, 0]]),
  )


def test_builders_reject_the_wrong_kind_of_symmetry():
  with pytest.raises(ValueError, match="discrete actions.*continuous_actions=True"):
    build_continuous_actor("gcnn", _discrete_symmetry())
  with pytest.raises(ValueError, match="discrete actions"):
    build_continuous_critic("mlp", _discrete_symmetry())
  with pytest.raises(ValueError, match="continuous actions.*build_continuous_actor"):
    build_actor("gcnn", pendulum_d1())
  with pytest.raises(ValueError, match="continuous actions"):
    build_critic("mlp", pendulum_d1())


def test_bad_arguments_are_named():
  symmetry = pendulum_d1()
  with pytest.raises(ValueError, match="unknown network kind 'cnn'"):
    build_continuous_actor("cnn", symmetry)
  with pytest.raises(ValueError, match="width=0"):
    build_continuous_critic("gcnn", symmetry, width=0)
  with pytest.raises(ValueError, match="num_kernels=0"):
    build_continuous_actor("relaxed", symmetry, num_kernels=0)
  with pytest.raises(ValueError, match="MDPSymmetry"):
    continuous.check_continuous("D1", "test")
