"""Leadflow's runnable services, the CLI and the pure decision core."""
