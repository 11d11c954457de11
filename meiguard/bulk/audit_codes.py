"""Audit action codes owned by this app (merged into audit.codes.ACTION_CODES)."""

CODES: dict[str, str] = {
    "bulk.importrun.applied": "批量导入(Excel)",
}
