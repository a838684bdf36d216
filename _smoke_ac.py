import time, numpy as np, sys
sys.path.insert(0, "tests")
from ac_fakes import PointMass
from tf_equirl.agents.ac import AC, ACConfig
cfg = ACConfig(env="PointMass", network=sys.argv[1], total_steps=4000, eval_every=1000, random_steps=200, noise_steps=1000, replay_capacity=5000, batch_size=64, learning_rate=1e-3, width=32, critic_width=32, eval_episodes=8)
agent = AC(cfg, env=PointMass(1))
t = time.time()
res = agent.train(callback=lambda s, r, m: print(s, round(r, 2), {k: round(v, 3) for k, v in m.items()}, f"{time.time()-t:.1f}s", flush=True))
print("tracing", agent.tracing_count, res.compile_seconds, res.steps_per_second)
