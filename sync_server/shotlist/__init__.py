"""The shot list in spreadsheets: export (xlsx, CSV, JSON), import with validation, a diff preview, apply."""
