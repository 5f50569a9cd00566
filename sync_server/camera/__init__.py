"""The camera of an image version (issue 15): solved from the picture on the server, or imported from an fSpy
project, and stored on the version so every artist gets the same camera (docs/api.md, "Camera solve")."""
