"""The records a project's shots refer to: scenes, characters, environments, cinematic presets."""
