"""Agents: PPO on tf-agents with equivariant actor-critics."""
