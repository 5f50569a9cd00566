"""Authentication: who may call the API at all, and how logins, tokens and API keys behave."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, assert_problem, login
from tests.support.server import ServerProcess, run_cli

# Operations that answer without a bearer token. Everything else in /openapi.json must say 401.
PUBLIC_OPERATIONS = {("GET", "/api/health"), ("POST", "/api/auth/login")}
# These carry their credential, a refresh token, in the body instead of an Authorization header.
REFRESH_TOKEN_OPERATIONS = {("POST", "/api/auth/refresh"), ("POST", "/api/auth/logout")}
LOGIN_MAX_FAILURES = 5  # the server's default `login_max_failures`
LOGIN_WINDOW_S = 300  # the server's default `login_window_s`


def _operations(api: Api) -> list[tuple[str, str]]:
    spec = httpx.get(f"{api.base_url}/openapi.json").json()
    ops = []
    for path, item in spec["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                ops.append((method.upper(), path))
    return ops


def _concrete(path: str) -> str:
    """Fill every {param} with a random UUID (the auth check must come before any lookup)."""
    parts = [str(uuid.uuid4()) if p.startswith("{") and p.endswith("}") else p for p in path.split("/")]
    return "/".join(parts)


def _new_user(api: Api, role: str = "artist") -> tuple[str, str, dict[str, Any]]:
    name = f"auth_{uuid.uuid4().hex[:10]}"
    password = secrets.token_urlsafe(12)
    created = api.admin.post("/api/users", json={"username": name, "password": password, "role": role})
    assert created.status_code == 201, created.text
    return name, password, created.json()


def _login(api: Api, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{api.base_url}/api/auth/login", json={"username": username, "password": password})


def _refresh(api: Api, refresh_token: str) -> httpx.Response:
    return httpx.post(f"{api.base_url}/api/auth/refresh", json={"refresh_token": refresh_token})


def _me(api: Api, access_token: str) -> httpx.Response:
    return httpx.get(f"{api.base_url}/api/users/me", headers={"Authorization": f"Bearer {access_token}"})


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


# -- every route needs a login -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-jwt", "Bearer aip_no-such-api-key", "Basic YWRtaW46YWRtaW4="],
    ids=["no-header", "garbage-token", "unknown-api-key", "basic-auth"],
)
def test_every_operation_in_the_openapi_document_refuses_a_caller_without_a_valid_token(
    api: Api, authorization: str | None
) -> None:
    operations = _operations(api)
    assert len(operations) >= 40, f"the OpenAPI document lists too few operations: {operations}"
    assert set(operations) >= PUBLIC_OPERATIONS | REFRESH_TOKEN_OPERATIONS  # the exceptions still exist
    headers = {"Authorization": authorization} if authorization else {}
    open_ones = []
    with httpx.Client(base_url=api.base_url, headers=headers, timeout=30.0) as client:
        for method, path in operations:
            if (method, path) in PUBLIC_OPERATIONS | REFRESH_TOKEN_OPERATIONS:
                continue
            body = {} if method in {"POST", "PUT", "PATCH"} else None
            response = client.request(method, _concrete(path), json=body)
            if response.status_code != 401:
                open_ones.append(f"{method} {path} -> {response.status_code}")
                continue
            assert_problem(response, 401)
            assert response.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), (method, path)
    assert not open_ones, "operations answering without a valid token: " + ", ".join(open_ones)


def test_refresh_and_logout_refuse_a_forged_refresh_token_with_401(api: Api) -> None:
    for method, path in sorted(REFRESH_TOKEN_OPERATIONS):
        response = httpx.request(method, f"{api.base_url}{path}", json={"refresh_token": "forged.token.x"})
        assert_problem(response, 401, field="refresh_token")


def test_the_public_operations_docs_and_openapi_answer_without_a_login(api: Api) -> None:
    assert httpx.get(f"{api.base_url}/api/health").status_code == 200
    docs = httpx.get(f"{api.base_url}/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    spec = httpx.get(f"{api.base_url}/openapi.json")
    assert spec.status_code == 200 and "/api/shots/{shot_id}" in spec.json()["paths"]
    refused = _login(api, "nobody_" + uuid.uuid4().hex[:8], "not-the-password")
    assert_problem(refused, 401)  # login itself answers (with a refusal), it does not demand a token


def test_an_access_token_is_refused_where_a_refresh_token_is_expected_and_vice_versa(api: Api) -> None:
    name, password, _ = _new_user(api)
    pair = _login(api, name, password).json()
    assert_problem(_refresh(api, pair["access_token"]), 401, field="refresh_token")
    assert_problem(_me(api, pair["refresh_token"]), 401)
    assert _me(api, pair["access_token"]).status_code == 200


# -- login ---------------------------------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_user_get_the_same_401_that_does_not_say_which_was_wrong(
    api: Api,
) -> None:
    name, password, _ = _new_user(api)
    wrong_password = assert_problem(_login(api, name, password + "x"), 401)
    unknown_user = assert_problem(_login(api, "ghost_" + uuid.uuid4().hex[:8], password), 401)
    assert _without_request_id(wrong_password) == _without_request_id(unknown_user)
    detail = wrong_password["detail"].lower()
    for leak in ("no such user", "unknown user", "does not exist", "not found", "password is wrong"):
        assert leak not in detail
    assert "access_token" not in wrong_password


def test_a_successful_login_returns_a_token_pair_and_the_user(api: Api) -> None:
    name, password, user = _new_user(api, role="editor")
    response = _login(api, name.upper(), password)  # usernames are case-insensitive at login
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] > 0 and pair["refresh_expires_in"] > 0
    assert pair["user"]["id"] == user["id"] and pair["user"]["role"] == "editor"
    me = _me(api, pair["access_token"])
    assert me.status_code == 200 and me.json()["username"] == name


def test_failed_logins_for_one_username_are_rate_limited_with_429_and_retry_after(api: Api) -> None:
    victim, victim_password, _ = _new_user(api)
    bystander, bystander_password, _ = _new_user(api)
    for attempt in range(LOGIN_MAX_FAILURES):
        assert_problem(_login(api, victim, f"wrong-{attempt}"), 401)
    # Even the right password is refused now, for the whole window.
    limited = _login(api, victim, victim_password)
    body = assert_problem(limited, 429, field="username")
    retry_after = int(limited.headers["Retry-After"])
    assert 0 < retry_after <= LOGIN_WINDOW_S + 1
    assert victim in body["detail"]
    assert_problem(_login(api, victim.upper(), victim_password), 429)  # not dodged by changing case
    # Another username from the same address is not affected.
    assert _login(api, bystander, bystander_password).status_code == 200


# -- refresh tokens ------------------------------------------------------------------------------------


def test_refresh_rotates_the_pair_the_new_one_works_and_the_old_refresh_token_is_refused(api: Api) -> None:
    name, password, _ = _new_user(api)
    first = _login(api, name, password).json()
    rotated = _refresh(api, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert _me(api, second["access_token"]).json()["username"] == name
    assert_problem(_refresh(api, first["refresh_token"]), 401, field="refresh_token")


def test_reusing_an_old_refresh_token_signs_out_every_session_of_that_user_only(api: Api) -> None:
    name, password, _ = _new_user(api)
    other, other_password, _ = _new_user(api)
    laptop = _login(api, name, password).json()
    desktop = _login(api, name, password).json()
    someone_else = _login(api, other, other_password).json()
    laptop_rotated = _refresh(api, laptop["refresh_token"]).json()

    reuse = _refresh(api, laptop["refresh_token"])  # a stolen copy of the old token is replayed
    assert "signed out" in assert_problem(reuse, 401, field="refresh_token")["detail"]

    assert_problem(_refresh(api, laptop_rotated["refresh_token"]), 401)
    assert_problem(_refresh(api, desktop["refresh_token"]), 401)
    assert _refresh(api, someone_else["refresh_token"]).status_code == 200
    assert _login(api, name, password).status_code == 200  # the user can sign in again


def test_logout_revokes_the_refresh_token(api: Api) -> None:
    name, password, _ = _new_user(api)
    pair = _login(api, name, password).json()
    logout = httpx.post(f"{api.base_url}/api/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert logout.status_code == 204
    assert_problem(_refresh(api, pair["refresh_token"]), 401, field="refresh_token")


# -- API keys ------------------------------------------------------------------------------------------


def test_an_api_key_is_shown_once_works_as_a_bearer_token_with_its_role_and_stops_when_revoked(
    api: Api,
) -> None:
    name = f"render-{uuid.uuid4().hex[:8]}"
    created = api.admin.post("/api/api-keys", json={"name": name, "role": "wrangler"})
    assert created.status_code == 201, created.text
    key = created.json()
    assert (
        key["key"].startswith("aip_") and key["key"].startswith(key["prefix"]) and key["revoked_at"] is None
    )

    listed = api.admin.get("/api/api-keys", params={"limit": 5000}).json()["items"]
    mine = [item for item in listed if item["id"] == key["id"]]
    assert len(mine) == 1 and mine[0]["name"] == name
    assert all("key" not in item and "key_hash" not in item for item in listed)
    assert key["key"] not in str(listed)

    with api.client(f"Bearer {key['key']}") as as_key:
        assert as_key.get("/api/metrics").status_code == 200  # wrangler may read metrics
        assert_problem(as_key.get("/api/audit"), 403)  # ... but not the audit log
        revoked = api.admin.delete(f"/api/api-keys/{key['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        refused = assert_problem(as_key.get("/api/metrics"), 401)
        assert "revoked" in refused["detail"].lower()


def test_an_api_key_made_with_the_cli_works_against_the_running_server_with_its_role(api: Api) -> None:
    name = f"cli-key-{uuid.uuid4().hex[:8]}"
    result = run_cli(
        "admin", "create-api-key", name, "--role", "director",
        data_dir=api.data_dir, database_url=api.database_url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    key = result.stdout.strip().splitlines()[-1].strip()
    assert key.startswith("aip_"), result.stdout
    with api.client(f"Bearer {key}") as as_key:
        assert as_key.get("/api/projects").status_code == 200
        assert (
            as_key.post("/api/projects", json={"code": f"K{uuid.uuid4().hex[:8]}", "name": "k"}).status_code
            == 201
        )
        assert_problem(as_key.get("/api/users"), 403)  # a director key cannot manage users
    listed = api.admin.get("/api/api-keys", params={"limit": 5000}).json()["items"]
    assert [item["role"] for item in listed if item["name"] == name] == ["director"]
    assert key not in str(listed)


# -- stored secrets and account state ------------------------------------------------------------------


def test_passwords_are_stored_only_as_argon2id_hashes(api: Api) -> None:
    name, password, user = _new_user(api)
    engine = create_engine(api.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT password_hash FROM users WHERE username = :name"), {"name": name}
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored.startswith("$argon2id$"), stored
    assert password not in stored
    assert PasswordHasher().verify(stored, password)
    assert "password" not in user and "password_hash" not in user


def test_a_disabled_users_access_and_refresh_tokens_stop_working(api: Api) -> None:
    name, password, user = _new_user(api)
    pair = _login(api, name, password).json()
    assert _me(api, pair["access_token"]).status_code == 200
    disabled = api.admin.patch(
        f"/api/users/{user['id']}", json={"active": False, "revision": user["revision"]}
    )
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert_problem(_me(api, pair["access_token"]), 401)
    assert_problem(_refresh(api, pair["refresh_token"]), 401)
    assert_problem(_login(api, name, password), 401)


def test_a_token_refused_because_the_account_is_disabled_still_carries_www_authenticate(api: Api) -> None:
    name, password, user = _new_user(api)
    pair = _login(api, name, password).json()
    disabled = api.admin.patch(
        f"/api/users/{user['id']}", json={"active": False, "revision": user["revision"]}
    )
    assert disabled.status_code == 200, disabled.text
    refused = _me(api, pair["access_token"])
    assert_problem(refused, 401)
    # RFC 9110 §15.5.2: a 401 MUST say how to authenticate, as the other bearer refusals do.
    assert refused.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), refused.headers


def test_users_change_their_own_password_which_signs_out_their_other_sessions(api: Api) -> None:
    name, password, _ = _new_user(api, role="agent")  # even the smallest role may change its password
    other_session = _login(api, name, password).json()
    client = login(api.base_url, name, password)
    try:
        wrong = client.post(
            "/api/users/me/password", json={"current_password": "not-it", "new_password": "n3w-passw0rd"}
        )
        assert_problem(wrong, 401, field="current_password")
        short = client.post(
            "/api/users/me/password", json={"current_password": password, "new_password": "short"}
        )
        assert_problem(short, 422, field="new_password")
        assert _login(api, name, password).status_code == 200  # neither refusal changed the password

        changed = client.post(
            "/api/users/me/password", json={"current_password": password, "new_password": "n3w-passw0rd"}
        )
        assert changed.status_code == 204, changed.text
    finally:
        client.close()
    assert_problem(_refresh(api, other_session["refresh_token"]), 401)
    assert_problem(_login(api, name, password), 401)
    assert _login(api, name, "n3w-passw0rd").status_code == 200


def test_an_admin_can_reset_a_users_password_which_signs_out_their_sessions(api: Api) -> None:
    name, password, user = _new_user(api)
    session = _login(api, name, password).json()
    reset = api.admin.patch(f"/api/users/{user['id']}", json={"password": "r3set-by-admin", "revision": 1})
    assert reset.status_code == 200, reset.text
    assert reset.json()["revision"] == 2 and "password" not in reset.json()
    assert_problem(_refresh(api, session["refresh_token"]), 401)
    assert_problem(_login(api, name, password), 401)
    assert _login(api, name, "r3set-by-admin").status_code == 200


def test_a_key_revoked_through_one_server_process_stops_working_on_another_at_once(
    tmp_path, fresh_pg_url
) -> None:
    """API keys are cached by each server process; a revocation must reach every one of them."""
    first, password = start_server_with_admin(tmp_path / "one", fresh_pg_url)
    second = ServerProcess(tmp_path / "two", fresh_pg_url)
    second.start()
    try:
        admin = login(first.url, ADMIN, password)
        key = admin.post("/api/api-keys", json={"name": "wrangler-revoke", "role": "wrangler"}).json()
        headers = {"Authorization": f"Bearer {key['key']}"}
        for server in (first, second):  # now cached by both
            assert httpx.get(f"{server.url}/api/farm/agents", headers=headers).status_code == 200
        assert admin.delete(f"/api/api-keys/{key['id']}").status_code == 200
        deadline = time.monotonic() + 5
        while httpx.get(f"{second.url}/api/farm/agents", headers=headers).status_code != 401:
            assert time.monotonic() < deadline, "the other process still accepts the revoked key"
            time.sleep(0.05)
        assert httpx.get(f"{first.url}/api/farm/agents", headers=headers).status_code == 401
    finally:
        second.stop()
        first.stop()
