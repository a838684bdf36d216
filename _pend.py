import sys, time
from tf_equirl.agents.ac import AC, ACConfig
kw = dict(total_steps=int(sys.argv[2]), eval_every=2000, noise_steps=int(sys.argv[3]), random_steps=int(sys.argv[4]))
cfg = ACConfig(env="Pendulum-v1", network=sys.argv[1], **kw)
agent = AC(cfg)
t = time.time()
res = agent.train(callback=lambda s, r, m: print(s, round(r, 1), round(m["critic_loss"], 2), round(m["q_mean"], 1), f"{time.time()-t:.0f}s", flush=True))
print("eval", list(zip(res.env_steps.tolist(), res.eval_return.round(1).tolist())))
print("compile", res.compile_seconds, "sps", res.steps_per_second)
