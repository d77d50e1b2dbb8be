"""Haven's Django app: tickets, channels, the vault, the pipeline, and the agent and customer UI."""
