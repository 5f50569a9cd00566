"""Dailies: a reel of the day's versions and a contact sheet, on a schedule or on demand
(docs/api.md, "Dailies")."""
