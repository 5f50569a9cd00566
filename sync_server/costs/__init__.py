"""Cost per shot: GPU time, retries, takes, models and agents of the farm's jobs rolled up per version, shot,
scene and project, and the project's GPU budget (docs/api.md, "Costs")."""
