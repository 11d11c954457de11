"""Mounts every app's router under /api/v1 (OpenAPI docs at /api/v1/docs)."""

from ninja import NinjaAPI

from meiguard.authz.api import router as authz_router
from meiguard.core import apierrors
from meiguard.core.api import API_AUTH
from meiguard.core.api import router as core_router
from meiguard.registry.api import router as registry_router
from meiguard.rules.api import router as rules_router

api = NinjaAPI(
    title="meiguard API",
    version="1",
    description="医美授权与安全合规管理系统 JSON API。错误统一为 {code, message, field, errors[]}。",
    auth=API_AUTH,
    urls_namespace="api",
)
apierrors.install(api)
api.add_router("/", core_router)
api.add_router("/rules", rules_router)
api.add_router("/registry", registry_router)
api.add_router("/", authz_router)
