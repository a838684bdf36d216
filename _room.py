import json, sys, time
from tf_equirl.experiments import prae_study as s
study = s.PRAEStudyConfig(tasks=("KeyRoom-v0",), budgets=(100,), seeds=1, eval_episodes=40, epochs=50)
for model in sys.argv[1].split(","):
  for seed in (0,):
    t = time.time()
    row = s._one_run(s.task_config(study, "KeyRoom-v0", model, 100, seed), "KeyRoom-v0")
    print(json.dumps(dict(model=model, seed=seed, sec=round(time.time()-t), **row)), flush=True)
