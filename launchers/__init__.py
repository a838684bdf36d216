"""absl entry points; run as `python -m launchers.<name>` from the repository root."""
