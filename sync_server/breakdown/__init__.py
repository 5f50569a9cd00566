"""Scenario breakdown: a script (Fountain, Korean screenplay or prose) becomes a draft of characters,
environments, scenes and shots that a person edits and applies. See docs/breakdown.md."""
