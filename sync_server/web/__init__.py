"""Server-rendered pages (login, index, farm dashboard, review room) over the JSON API; docs/web.md."""
