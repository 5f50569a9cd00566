"""Test helpers: real server processes on loopback, API clients, PostgreSQL databases."""
