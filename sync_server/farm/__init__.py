"""The render farm: workflow templates and the work agents do."""
