"""Pixel encoders' forward time against the plain cnn, and the pixel agent's frames/s.

  python benchmarks/pixel_encoders.py                        # batch 256 on 85x85x9, 5 repeats
  python benchmarks/pixel_encoders.py --batch=64 --repeats=3 # lighter
  python benchmarks/pixel_encoders.py --quick                # tiny run (smoke test)
  python benchmarks/pixel_encoders.py --agent_image_size=37 --agent_env=CartPoleSwingup-v0 \
      --agent_encoders=cnn,gcnn,relaxed,rpp --agent_xla_encoders=cnn   # the pixel study's agents
  python benchmarks/pixel_encoders.py --kinds=cnn --repeats=1 --agent_image_size=37 \
      --agent_env=CartPoleSwingup-v0 --agent_encoders=cnn --agent_replay_capacity=80000
      # sampling from a large replay buffer (2 GB here)

Section 1: each encoder (`tf_equirl.networks.pixel.build_pixel_encoder`, group kinds at the
width whose parameter count is closest to the cnn's) runs its forward pass on a batch of
`--image_size` pictures with `3 * --frame_stack` channels, compiled with XLA. After one
compiling call per kind, the kinds are timed in turn (cnn, gcnn, relaxed, rpp, cnn, ...) for
`--repeats` rounds of `--calls` calls each, so that the machine's load touches every kind
alike; the table gives the median ms per call and its ratio to the cnn's median.

Section 2: the pixel agent (`tf_equirl.agents.ac.PixelAC`) on `--agent_image_size`
pictures trains `--agent_steps` env steps twice over (one compiled call each, the first
includes tracing and compilation) with each encoder of `--agent_encoders`, as a TensorFlow
graph (`jit_compile=False`), and with XLA as well for the encoders of
`--agent_xla_encoders`; printed are the frames (env steps) per second of the second call,
collection and updates together, and the first call's compile seconds. On CPU, XLA's
convolution gradients are far slower than TensorFlow's own kernels, so the XLA rows are
opt-in. All figures come from one run of this script on one machine.
"""

import os
import platform
import statistics
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

from tf_equirl.agents.ac import ACConfig, PixelAC  # noqa: E402
from tf_equirl.agents.ac.pixels import bytes_per_transition  # noqa: E402
from tf_equirl.networks.pixel import PIXEL_ENCODER_KINDS, build_pixel_encoder  # noqa: E402
from tf_equirl.params import count_params  # noqa: E402

_BATCH = flags.DEFINE_integer("batch", 256, "Pictures per forward call.", lower_bound=1)
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed rounds over the kinds.", lower_bound=1)
_CALLS = flags.DEFINE_integer("calls", 3, "Forward calls per kind in a round.", lower_bound=1)
_IMAGE = flags.DEFINE_integer("image_size", 85, "Side of the pictures (85, 53 or 37).")
_FRAMES = flags.DEFINE_integer("frame_stack", 3, "Stacked RGB frames.", lower_bound=1)
_GROUP = flags.DEFINE_enum("group", "D1", ["C2", "C4", "D1", "D2", "D4"], "Plane group.")
_KINDS = flags.DEFINE_list("kinds", list(PIXEL_ENCODER_KINDS), "Encoder kinds (cnn first).")
_AGENT_ENV = flags.DEFINE_string("agent_env", "Pendulum-v1", "Pixel environment of section 2.")
_AGENT_ENCODERS = flags.DEFINE_list("agent_encoders", ["cnn", "gcnn"], "Encoders of section 2.")
_AGENT_XLA = flags.DEFINE_list(
  "agent_xla_encoders", [], "Encoders of section 2 also timed with XLA (jit_compile=True)."
)
_AGENT_IMAGE = flags.DEFINE_integer(
  "agent_image_size", None, "Side of the agent's pictures (default --image_size)."
)
_AGENT_STEPS = flags.DEFINE_integer("agent_steps", 400, "Env steps per training call.")
_AGENT_BATCH = flags.DEFINE_integer("agent_batch", 64, "Minibatch of the agent's updates.")
_AGENT_CAPACITY = flags.DEFINE_integer(
  "agent_replay_capacity",
  None,
  "Replay capacity of the agent (default: twice --agent_steps, every transition of the run); "
  "the buffer is allocated whole, so larger capacities time sampling from a large buffer.",
  lower_bound=16,
)
_QUICK = flags.DEFINE_bool("quick", False, "Tiny run (37x37, batch 4, one repeat, 8 steps).")


def _forward_table(kinds, batch, image_size, frame_stack, group, repeats, calls):
  images = tf.random.stateless_uniform([batch, image_size, image_size, 3 * frame_stack], [0, 1])
  forwards, params = {}, {}
  for kind in kinds:
    output = "vector" if kind == "cnn" else "regular"
    encoder = build_pixel_encoder(group, kind, image_size, frame_stack, output=output)
    params[kind] = count_params(encoder)
    forwards[kind] = tf.function(
      lambda x, encoder=encoder: encoder(x, training=False), jit_compile=True
    )
    forwards[kind](images).numpy()  # trace and compile
  times = {kind: [] for kind in kinds}
  for _ in range(repeats):
    for kind in kinds:
      start = time.perf_counter()
      for _ in range(calls):
        out = forwards[kind](images)
      out.numpy()
      times[kind].append((time.perf_counter() - start) * 1e3 / calls)
  return {kind: statistics.median(t) for kind, t in times.items()}, params


def _agent_rate(env, encoder, image_size, frame_stack, steps, batch, xla, capacity=None):
  config = ACConfig(
    env=env,
    jit_compile=xla,
    observation="pixels",
    encoder=encoder,
    image_size=image_size,
    frame_stack=frame_stack,
    total_steps=2 * steps,
    eval_every=steps,
    random_steps=max(steps // 8, 1),
    batch_size=batch,
    replay_capacity=capacity or max(2 * steps, 16),
    eval_episodes=1,
    final_episodes=0,  # frames/s of training; the final evaluation is not timed
  )
  agent = PixelAC(config)
  result = agent.train(seed=0)
  return result.steps_per_second, result.compile_seconds, agent.parameter_counts()


def main(argv):
  del argv
  quick = _QUICK.value
  batch = 4 if quick else _BATCH.value
  image_size = 37 if quick else _IMAGE.value
  repeats = 1 if quick else _REPEATS.value
  calls = 1 if quick else _CALLS.value
  kinds = _KINDS.value
  if kinds[0] != "cnn" or any(k not in PIXEL_ENCODER_KINDS for k in kinds):
    raise app.UsageError(f"--kinds must start with cnn and name kinds of {PIXEL_ENCODER_KINDS}.")
  frames, group = _FRAMES.value, _GROUP.value
  shape = f"{image_size}x{image_size}x{3 * frames}"
  print(f"## Pixel encoders: forward pass, batch {batch} on {shape}, group {group}, XLA\n")
  print(
    f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
    f"TensorFlow {tf.__version__}, devices {[d.device_type for d in tf.config.list_logical_devices()]}, "
    f"load average before: {os.getloadavg()[0]:.2f}"
  )
  medians, params = _forward_table(kinds, batch, image_size, frames, group, repeats, calls)
  print(f"median of {repeats} rounds of {calls} calls, kinds alternated\n")
  print("| encoder | parameters | ms per forward | ratio to cnn |")
  print("|---|---|---|---|")
  for kind in kinds:
    print(
      f"| {kind} | {params[kind]:,} | {medians[kind]:.2f} | {medians[kind] / medians['cnn']:.2f} |"
    )
  steps = 8 if quick else _AGENT_STEPS.value
  agent_batch = 4 if quick else _AGENT_BATCH.value
  agent_size = 37 if quick else (_AGENT_IMAGE.value or image_size)
  agent_shape = f"{agent_size}x{agent_size}x{3 * frames}"
  unknown = [e for e in _AGENT_ENCODERS.value + _AGENT_XLA.value if e not in PIXEL_ENCODER_KINDS]
  if unknown:
    raise app.UsageError(f"Unknown encoders {unknown}; expected kinds of {PIXEL_ENCODER_KINDS}.")
  defaults = ACConfig()  # the agent's update rate and action repeat, as the pixel study's
  capacity = None if quick else _AGENT_CAPACITY.value
  print(
    f"\n## Pixel agent: {_AGENT_ENV.value}, {agent_shape}, {steps} env steps per call, "
    f"minibatch {agent_batch}, one update per {defaults.update_every} env steps (action "
    f"repeat {defaults.action_repeat}); replay of {capacity or max(2 * steps, 16):,} "
    f"transitions, {bytes_per_transition(agent_size, frames, 1):,} bytes each (one action)\n"
  )
  print("| encoder | compiled as | parameters (encoder / actor / critic) | compile s | frames/s |")
  print("|---|---|---|---|---|")
  rows = [(e, False) for e in _AGENT_ENCODERS.value] + [(e, True) for e in _AGENT_XLA.value]
  for encoder, xla in rows:
    rate, compile_s, counts = _agent_rate(
      _AGENT_ENV.value, encoder, agent_size, frames, steps, agent_batch, xla, capacity
    )
    print(
      f"| {encoder} | {'XLA' if xla else 'graph'} | {counts['encoder']:,} / "
      f"{counts['actor']:,} / {counts['critic']:,} | {compile_s:.1f} | {rate:,.1f} |"
    )
  print(f"\nload average after: {os.getloadavg()[0]:.2f}")
  print(f"\nCommand: python benchmarks/pixel_encoders.py {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
  app.run(main)
