"""Render recipes: named, versioned chains of farm steps per project, submitted per shot as a job DAG,
and the render-ready action (docs/api.md, "Recipes")."""
