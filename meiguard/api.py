"""Mounts every app's router under /api/v1 (OpenAPI docs at /api/v1/docs)."""

from meiguard.aftercare.api import router as aftercare_router
from meiguard.authz.api import router as authz_router
from meiguard.bulk.api import router as bulk_router
from meiguard.clinical.api import router as clinical_router
from meiguard.complaints.api import router as complaints_router
from meiguard.compliance.api import router as compliance_router
from meiguard.core import apierrors, ratelimit
from meiguard.core.api import API_AUTH
from meiguard.core.api import router as core_router
from meiguard.core.openapi import DocumentedAPI
from meiguard.equipment.api import router as equipment_router
from meiguard.inventory.api import router as inventory_router
from meiguard.lifecycle.api import router as lifecycle_router
from meiguard.notify.api import router as notify_router
from meiguard.registry.api import router as registry_router
from meiguard.reviews.api import router as reviews_router
from meiguard.rules.api import router as rules_router
from meiguard.workflow.api import router as workflow_router
from meiguard.workspace.api import router as workspace_router

api = DocumentedAPI(
    title="meiguard API",
    version="1",
    description="医美授权与安全合规管理系统 JSON API。错误统一为 {code, message, field, errors[]}。",
    auth=API_AUTH,
    urls_namespace="api",
)
apierrors.install(api)
ratelimit.install(api)
api.add_router("/", core_router)
api.add_router("/rules", rules_router)
api.add_router("/registry", registry_router)
api.add_router("/", authz_router)
api.add_router("/notifications", notify_router)
api.add_router("/applications", workflow_router)
api.add_router("/lifecycle", lifecycle_router)
api.add_router("/reviews", reviews_router)
api.add_router("/bulk", bulk_router)
api.add_router("/workspace", workspace_router)
api.add_router("/clinical", clinical_router)
api.add_router("/equipment", equipment_router)
api.add_router("/aftercare", aftercare_router)
api.add_router("/complaints", complaints_router)
api.add_router("/compliance", compliance_router)
api.add_router("/inventory", inventory_router)
