"""The audit log: every mutation with who, what and the revisions before and after (admins read it)."""
