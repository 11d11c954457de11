"""Fixtures reused from the apps whose pages the workspace serves: the authz ``clinic`` (甲门诊部 with 李医生,
lots, a device, published rule packs; 乙医院 for sun) and the registry's ``reg`` (factories, with outsiders)."""

from meiguard.authz.tests.conftest import clinic  # noqa: F401  (fixtures, used by name)
from meiguard.registry.tests.conftest import reg  # noqa: F401
