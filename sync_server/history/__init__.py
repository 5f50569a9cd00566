"""Change history: every edit as a change set, viewable per shot and per project, with undo and redo."""
