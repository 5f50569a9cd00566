def test_health_needs_no_login_and_names_the_database(api):
    import httpx

    body = httpx.get(f"{api.base_url}/api/health").json()
    assert body["status"] == "ok"
    assert body["database"] == api.backend


def test_project_scene_shot_round_trip(api):
    project = api.project(fps="23.976", name="골목길")
    assert project["fps"] == "24000/1001"
    scene = api.scene(project["id"], name="리나")
    shot = api.shot(project["id"], scene["id"], description="리나가 달린다")
    assert shot["code"] == "SHT_0010"
    got = api.admin.get(f"/api/shots/{shot['id']}").json()
    assert got["description"] == "리나가 달린다"
