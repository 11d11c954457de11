def test_the_openapi_schema_lists_registry_endpoints(world):
    r = world.client("wang").get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in [
        "/api/v1/registry/institutions",
        "/api/v1/registry/practitioners/{practitioner_id}",
        "/api/v1/registry/qualifications/{qualification_id}/evidence",
        "/api/v1/registry/lots/{lot_id}/status",
        "/api/v1/registry/devices",
    ]:
        assert path in paths, path
