"""bpy-free core of the Blender extension, shared with the server (naming engine, pure helpers)."""
