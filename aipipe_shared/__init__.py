"""Code that more than one part of AIPipeline uses, free of bpy and of the server.

The naming engine, the workflow sidecar model and graph checks, exact frame rates, the editorial
timeline core, small asyncio helpers and the farm protocol's constants. It imports no other part of
ours (a test checks it); the Blender extension build copies it into the extension zip.
"""
