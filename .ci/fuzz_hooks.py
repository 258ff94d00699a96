"""Schemathesis hooks of .ci/fuzz: the workbook upload (POST /api/v1/admin/invoices/import) is
sent as the raw bytes schemathesis generates for its `string`/`binary` schema."""

import schemathesis

schemathesis.serializer.alias(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/octet-stream",
)
