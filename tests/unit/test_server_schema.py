"""schemathesis against /api/v1/openapi.json, in-process through WSGI: no input the
document allows may cause a server error, and every answer is JSON.

Driven through schemathesis's Python API (each operation's hypothesis strategy) rather
than its pytest plugin, which does not run under this pytest version.
"""

from __future__ import annotations

import os

import schemathesis
from fioloadgen_server.app import build_context, create_app
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import server_config

#: FIO_SCHEMA_EXAMPLES=200 for a deeper run by hand; CI keeps it short.
EXAMPLES_PER_OPERATION = int(os.environ.get("FIO_SCHEMA_EXAMPLES", "15"))


def test_no_input_causes_a_server_error(tmp_path):
    context = build_context(server_config(tmp_path))
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app(context))
        headers = {"Authorization": f"Bearer {context.token}"}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 25
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case):
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error])
                # schemathesis's own response type: lower-case names, lists of values.
                content_type = response.headers["content-type"][0]
                assert content_type.startswith("application/json"), (
                    case.method,
                    case.formatted_path,
                    response.status_code,
                    dict(response.headers),
                )

            check()
    finally:
        context.store.close()
        context.jobs.close()
