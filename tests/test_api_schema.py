"""A short schemathesis run against the server's own OpenAPI spec: generated requests to every API operation
never make the server fail (no 5xx). Driven through hypothesis directly (schemathesis' pytest plugin does not
load under pytest 9)."""
import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from policy_assistant.engine import Assistant  # noqa: E402
from policy_assistant.core.settings import Settings  # noqa: E402
from tests.servers import running  # noqa: E402


@pytest.mark.slow
def test_generated_requests_never_fail_the_server(built_index):
    settings_ = Settings.load({"index_dir": built_index.index_dir, "rate_limit": 0}, environ={})
    with running(settings_, Assistant(settings_, notify=lambda m: None)) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json").include(path_regex="^/(api|v1|healthz)")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/api/ask", "/v1/chat/completions", "/healthz"}
        tried = []
        for operation in operations:
            @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(case=operation.as_strategy())
            def run(case):
                response = case.call(timeout=30)
                tried.append(response.status_code)
                assert response.status_code < 500, f"{operation.path}: {response.status_code} {response.text[:300]}"

            run()
    assert len(tried) >= 40
