"""The permission matrix in the docs is the one the server enforces."""

from pathlib import Path

from sync_server.auth.permissions import ROLE_PERMISSIONS, Permission

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


def test_docs_permission_table_matches_the_enforced_matrix() -> None:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("| permission |"))
    roles = [cell.strip() for cell in header.strip("|").split("|")][2:]
    assert roles == list(ROLE_PERMISSIONS)
    documented: dict[str, set[str]] = {role: set() for role in roles}
    rows = [line for line in lines if line.startswith("| `") and ":" in line.split("|")[1]]
    assert {row.split("|")[1].strip().strip("`") for row in rows} == {p.value for p in Permission}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        for role, mark in zip(roles, cells[2:], strict=True):
            if mark == "✔":
                documented[role].add(cells[0].strip("`"))
    assert documented == {role: {p.value for p in perms} for role, perms in ROLE_PERMISSIONS.items()}
