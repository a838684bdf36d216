"""The actor-critic agent on pixels: DrQ-v2 (Yarats et al. 2021) as the seed uses it.

`PixelAC(config)` (or `make_agent(config)`) with `config.observation="pixels"` builds: the
same compiled training call as `AC` (collection and updates in one
`tf.function(jit_compile=True)`), with

1. observations: pictures of the states of the last `frame_stack` agent steps
   (`tf_equirl.envs.render`, frames `action_repeat` env steps apart: DrQ-v2 stacks frames
   over its action repeat), `[image_size, image_size, 3 * frame_stack]` in `[0, 1]`, stored
   in the replay buffer as uint8 (`PixelReplay`:
   `2 * image_size^2 * 3 * frame_stack + 4 * (k + 3)` bytes per transition, the picture and
   the next picture plus float32 action, reward, discount and end flag; 130,066 bytes at
   85x85 with 3 frames and one action, so `replay_capacity` bounds memory: 100,000
   transitions take about 13 GB);
2. augmentation: every sampled picture and next picture is shifted by its own whole-pixel
   offset in `[-4, 4]^2` with replicate padding (`random_shift`, stateless RNG). DrQ-v2 pads
   by 4 and samples the crop with a bilinear grid, with sub-pixel offsets; the whole-pixel
   shift is its integer special case;
3. networks: a pixel encoder `E` (`tf_equirl.networks.pixel.build_pixel_encoder`, kind
   `config.encoder`) whose features feed an actor head and a twin critic head
   (`build_feature_actor` / `build_feature_critic`, kind `config.head_kind`), each through
   its own DrQ-v2 trunk (`config.trunk_features`: a linear layer to 50 features, layer
   normalisation, tanh). The cnn
   encoder's flat features feed the mlp heads; a group encoder's regular features
   `[B, |G|, F]` feed equivariant heads, so that the whole actor satisfies
   `actor(T_g x) = pi(g) actor(x)` and the critic `Q(T_g x, pi(g) a) = Q(x, a)` (exactly for
   gcnn, at initialisation for relaxed and rpp). The heads work in the labels of the
   renderer's plane group; an environment whose elements map to other plane elements
   (Reacher) gets its action representation relabelled, `pi'(e(g)) = pi(g)`;
4. updates: the critic's loss trains the encoder and the critic head (the next pictures'
   features and the target critic's value carry no gradient, DrQ-v2 has no target encoder);
   the actor's loss sees the same features detached, so it trains the actor head only.

`actor` and `critic` are the whole models (pictures in), saved by `run_ac_experiment`.
Without the trunk (`trunk_features=0`) the agent has not been seen to learn: Pendulum from
37x37 pictures stays at a random policy's return over 25,000 env steps, while with it the same
run improves within 15,000 (docs/continuous_control.md gives the commands).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl import envs, rng
from tf_equirl.agents.ac.config import ACConfig, check_compiles
from tf_equirl.agents.ac.learner import (
  ADAM_EPSILON,
  AC,
  Carry,
  _TRAIN_KEY,
  actor_loss,
  critic_loss,
)
from tf_equirl.agents.ac.replay import Replay
from tf_equirl.envs.render import renderer_for
from tf_equirl.groups import Representation
from tf_equirl.groups.plane import plane_group
from tf_equirl.networks.continuous import (
  build_feature_actor,
  build_feature_critic,
  check_continuous,
)
from tf_equirl.networks.pixel import build_pixel_encoder
from tf_equirl.params import count_params

__all__ = [
  "SHIFT_PAD",
  "PixelAC",
  "PixelReplay",
  "random_shift",
  "to_uint8",
  "to_float",
  "bytes_per_transition",
]

SHIFT_PAD = 4  # DrQ-v2's RandomShiftsAug(pad=4)


def to_uint8(images) -> tf.Tensor:
  """Pictures in `[0, 1]` as uint8 `round(255 x)` (values outside are clipped)."""
  images = tf.convert_to_tensor(images)
  if images.dtype == tf.uint8:
    return images
  return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.uint8)


def to_float(images) -> tf.Tensor:
  """uint8 pictures back to float32 in `[0, 1]`."""
  return tf.cast(images, tf.float32) / 255.0


def random_shift(images, key, pad: int = SHIFT_PAD) -> tf.Tensor:
  """Each picture of `[B, H, W, C]` moved by its own whole-pixel offset `(dy, dx)`, uniform in
  `[-pad, pad]^2`, with replicate padding (the same as padding by `pad` with the edge values
  and cropping `H x W` back at a random corner).

  Args:
    images: `[B, H, W, C]` of any dtype (uint8 in the agent: the shift copies values).
    key: `[2]` int64 stateless key; the same key gives the same shifts.
    pad: largest offset in pixels, a non-negative integer.

  Returns:
    The shifted pictures, shape and dtype of `images`.

  Raises:
    ValueError: `images` not of rank 4 with known height and width, or a bad `pad`.
  """
  if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
    raise ValueError(f"random_shift: expected an integer pad >= 0, received pad={pad!r}.")
  images = tf.convert_to_tensor(images)
  if images.shape.rank != 4 or images.shape[1] is None or images.shape[2] is None:
    raise ValueError(
      f"random_shift: expected pictures [B, H, W, C] with known H and W, received shape "
      f"{images.shape}."
    )
  height, width = int(images.shape[1]), int(images.shape[2])
  batch = tf.shape(images)[:1]
  u = rng.uniform(tf.concat([batch, [2]], 0), key)
  offset = tf.minimum(tf.cast(tf.floor(u * (2 * pad + 1)), tf.int32), 2 * pad) - pad
  rows = tf.clip_by_value(tf.range(height)[None] + offset[:, :1], 0, height - 1)
  cols = tf.clip_by_value(tf.range(width)[None] + offset[:, 1:], 0, width - 1)
  images = tf.gather(images, rows, axis=1, batch_dims=1)
  return tf.gather(images, cols, axis=2, batch_dims=1)


def bytes_per_transition(image_size: int, frame_stack: int, action_dim: int) -> int:
  """Bytes one transition takes in `PixelReplay` (two uint8 pictures, float32 scalars)."""
  return 2 * image_size * image_size * 3 * frame_stack + 4 * (action_dim + 3)


class PixelReplay(Replay):
  """`Replay` whose pictures are uint8 `[slots, num_envs, H, W, C]` (`add` takes float
  pictures in `[0, 1]` or uint8, `sample` returns uint8; `to_float` turns them back).

  Args:
    slots: agent steps kept per environment.
    num_envs: environments written at every step.
    image_shape: `(H, W, C)` of one observation.
    action_dim: length of an action vector.
  """

  def __init__(self, slots: int, num_envs: int, image_shape, action_dim: int):
    self.slots, self.num_envs = int(slots), int(num_envs)
    self.image_shape = tuple(int(n) for n in image_shape)
    shape = [self.slots, self.num_envs]

    def var(name, trailing=(), dtype=tf.float32):
      return tf.Variable(tf.zeros(shape + list(trailing), dtype), trainable=False, name=name)

    self.observation = var("observation", self.image_shape, tf.uint8)
    self.action = var("action", [action_dim])
    self.reward = var("reward")
    self.discount = var("discount")
    self.ended = var("ended")
    self.next_observation = var("next_observation", self.image_shape, tf.uint8)
    self.count = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="count")

  def add(self, observation, action, reward, discount, ended, next_observation):
    return super().add(
      to_uint8(observation), action, reward, discount, ended, to_uint8(next_observation)
    )

  @property
  def bytes_per_transition(self) -> int:
    """Bytes per stored transition (all fields)."""
    return sum(int(np.prod(v.shape[2:], dtype=np.int64)) * v.dtype.size for v in self.fields)


def _relabelled_action_rep(symmetry, elements) -> Representation:
  """`pi'` on the plane group's labels, `pi'(e(g)) = pi(g)`, for the renderer's element map
  `e` (the identity when None)."""
  group = plane_group(symmetry.state_rep.plane)
  matrices = np.asarray(symmetry.action_rep.matrices)
  if elements is not None:
    moved = np.empty_like(matrices)
    moved[list(elements)] = matrices
    matrices = moved
  return Representation(group, matrices, name=f"{symmetry.action_rep.name}_on_plane")


class PixelAC(AC):
  """`AC` on pictures (module docstring). Built by `PixelAC(config)` or `make_agent(config)` when
  `config.observation == "pixels"`.

  Args:
    config: an `ACConfig` with `observation="pixels"`.
    env: optional pixel environment (default `envs.make(config.env, observation="pixels",
      image_size=config.image_size, frame_stack=config.frame_stack,
      frame_spacing=config.action_repeat)`: one frame per agent step); its pictures must be
      `[image_size, image_size, 3 * frame_stack]`.

  Raises:
    ValueError: a config without observation="pixels", an environment whose observations are
      not such pictures or have no renderer, whose frames are not `action_repeat` env steps
      apart, or one with discrete actions.
  """

  def __init__(self, config: ACConfig, env: Optional[Any] = None):
    if not isinstance(config, ACConfig) or config.observation != "pixels":
      raise ValueError(
        "PixelAC expects an ACConfig with observation='pixels', received "
        f"{getattr(config, 'observation', type(config).__name__)!r}."
      )
    self.config = cfg = config
    if env is None:
      env = envs.make(
        cfg.env,
        batch_size=cfg.num_envs,
        seed=cfg.seed,
        observation="pixels",
        image_size=cfg.image_size,
        frame_stack=cfg.frame_stack,
        frame_spacing=cfg.action_repeat,  # one frame per agent step, as DrQ-v2
      )
    self.env = env
    if env.batch_size != cfg.num_envs:
      raise ValueError(
        f"PixelAC: the environment has batch_size {env.batch_size} but config.num_envs is "
        f"{cfg.num_envs}."
      )
    image_shape = (cfg.image_size, cfg.image_size, 3 * cfg.frame_stack)
    seen = tuple(env.observation_spec().shape)
    if seen != image_shape:
      raise ValueError(
        f"PixelAC: the environment's observations have shape {seen}, but config.image_size="
        f"{cfg.image_size} and frame_stack={cfg.frame_stack} expect pictures {image_shape} "
        "(3 RGB channels per frame)."
      )
    spacing = getattr(env, "frame_spacing", None)
    if spacing is not None and spacing != cfg.action_repeat:
      raise ValueError(
        f"PixelAC: the environment stacks frames {spacing} env steps apart, but the agent "
        f"steps every config.action_repeat={cfg.action_repeat} env steps; build it with "
        f"frame_spacing={cfg.action_repeat} (one frame per agent step, as DrQ-v2)."
      )
    check_compiles(env, cfg, "PixelAC")
    self.symmetry = check_continuous(env.symmetry, f"PixelAC on {cfg.env}")
    inner: Any = getattr(env, "inner", env)  # the rendered environment
    renderer = renderer_for(inner)
    self.plane_group = renderer.plane_group
    self.head_action_rep = _relabelled_action_rep(self.symmetry, renderer.elements)
    self.encoder, self.actor_head, self.critic_head = self._build_parts()
    self.target_critic = self._build_parts()[2]
    self.target_critic.set_weights(self.critic_head.get_weights())
    self.actor, self.critic = self._whole_models()
    self.actor_optimizer = keras.optimizers.Adam(cfg.learning_rate, epsilon=ADAM_EPSILON)
    self.critic_optimizer = keras.optimizers.Adam(cfg.learning_rate, epsilon=ADAM_EPSILON)
    self.actor_optimizer.build(self.actor_head.trainable_variables)
    self.critic_optimizer.build(self._critic_variables)
    self.replay = PixelReplay(
      cfg.replay_capacity // cfg.num_envs, cfg.num_envs, image_shape, self.symmetry.action_dim
    )
    per_step = cfg.env_steps_per_agent_step
    self._updates_per_step = max(per_step // cfg.update_every, 1)
    self._update_period = max(cfg.update_every // per_step, 1)
    self._train_call = tf.function(
      self._train_call_impl, jit_compile=cfg.jit_compile, autograph=False
    )
    self._players: Dict[Any, Any] = {}  # compiled evaluations (AC._player)
    self._carry: Optional[Carry] = None

  # --------------------------------------------------------------------- networks
  def _build_parts(self):
    """Fresh `(encoder, actor_head, critic_head)`."""
    c = self.config
    output = "vector" if c.encoder == "cnn" else "regular"
    encoder = build_pixel_encoder(
      self.plane_group,
      c.encoder,
      image_size=c.image_size,
      frame_stack=c.frame_stack,
      channels=c.encoder_channels,
      output=output,
      num_kernels=c.num_kernels,
    )
    features = encoder.output_shape[1:]
    kind = c.head_kind
    actor = build_feature_actor(
      kind, self.head_action_rep, features, c.width, c.num_kernels, trunk=c.trunk_features or None
    )
    critic = build_feature_critic(
      kind,
      self.head_action_rep,
      features,
      c.critic_width,
      c.num_kernels,
      trunk=c.trunk_features or None,
    )
    return encoder, actor, critic

  def _whole_models(self):
    """The actor `pictures -> action` and the critic `[pictures, action] -> [B, 2]` that share
    `encoder`."""
    pictures = keras.Input(self.encoder.input_shape[1:], name="pixels")
    action = keras.Input((self.symmetry.action_dim,), name="action")
    features = self.encoder(pictures)
    actor = keras.Model(pictures, self.actor_head(features), name="pixel_actor")
    critic = keras.Model(
      [pictures, action], self.critic_head([features, action]), name="pixel_critic"
    )
    return actor, critic

  @property
  def _critic_variables(self):
    return self.encoder.trainable_variables + self.critic_head.trainable_variables

  def parameter_counts(self) -> Dict[str, int]:
    return {
      "encoder": count_params(self.encoder),
      "actor": count_params(self.actor_head),
      "critic": count_params(self.critic_head),
    }

  # ---------------------------------------------------------------------- runs
  def reset(self, seed: int) -> None:
    """Re-initialises weights (seeded), optimisers, replay and environments for a new run."""
    keras.utils.set_random_seed(int(seed))
    for mine, fresh in zip((self.encoder, self.actor_head, self.critic_head), self._build_parts()):
      mine.set_weights(fresh.get_weights())
    self.target_critic.set_weights(self.critic_head.get_weights())
    for v in self.actor_optimizer.variables + self.critic_optimizer.variables:
      v.assign(tf.zeros_like(v))
    self.replay.clear()
    key = tf.constant([int(seed), _TRAIN_KEY], tf.int64)
    env_state, time_step = self.env.pure_reset(rng.fold_in(key, -1))
    self._carry = Carry(
      env_state=env_state,
      observation=tf.cast(time_step.observation, tf.float32),
      episode_return=tf.zeros([self.config.num_envs]),
      step=tf.constant(0, tf.int64),
      key=key,
    )

  # ------------------------------------------------------------ compiled graph
  def _update(self, key, std):
    """One critic step (encoder and critic head), one actor step (actor head on detached
    features), one target update; `(critic_loss, actor_loss, q)`."""
    cfg = self.config
    batch = self.replay.sample(rng.fold_in(key, 0), cfg.batch_size, cfg.n_step, cfg.gamma)
    observation = to_float(random_shift(batch.observation, rng.fold_in(key, 4)))
    next_observation = to_float(random_shift(batch.next_observation, rng.fold_in(key, 5)))
    critic_vars = self._critic_variables
    with tf.GradientTape() as tape:
      features = self.encoder(observation)
      on_features = batch._replace(
        observation=features,
        next_observation=tf.stop_gradient(self.encoder(next_observation)),
      )
      c_loss, q = critic_loss(
        self.critic_head,
        self.target_critic,
        self.actor_head,
        on_features,
        self._noise(rng.fold_in(key, 2), std),
      )
    self.critic_optimizer.apply_gradients(zip(tape.gradient(c_loss, critic_vars), critic_vars))
    actor_vars = self.actor_head.trainable_variables
    detached = tf.stop_gradient(features)
    with tf.GradientTape() as tape:
      a_loss = actor_loss(
        self.actor_head, self.critic_head, detached, self._noise(rng.fold_in(key, 3), std)
      )
    self.actor_optimizer.apply_gradients(zip(tape.gradient(a_loss, actor_vars), actor_vars))
    tau = cfg.tau
    for target, source in zip(self.target_critic.variables, self.critic_head.variables):
      target.assign(tau * source + (1.0 - tau) * target)
    return c_loss, a_loss, tf.reduce_mean(q)
