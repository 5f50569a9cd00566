"""Projects: code, name, frame rate, resolution, handles, storage root."""
