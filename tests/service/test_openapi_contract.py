"""The OpenAPI document is what a client is generated from: every route, called with
requests drawn from its own schema (schemathesis), answers as the document says — never a
5xx, only documented status codes, bodies of the documented shape, errors included."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from latentrec.service.app import create_app  # noqa: E402
from latentrec.service.holder import FixedSource  # noqa: E402
from latentrec.service.settings import Settings  # noqa: E402


def operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_every_route_answers_as_its_schema_says(explicit_model, store):
    app = create_app(Settings(), store=store, source=FixedSource(explicit_model, "v-test"))
    found = {}
    tried = []
    ids_sent = set()
    for op in operations(app):
        # Bounded, and the same examples on every run: a failure here reproduces.
        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(op.as_strategy())
        def check(case):
            # A request the schema allows may still be refused for what it holds (a
            # rating outside the model's scale, a genre the catalogue lacks): a 422 there
            # is right, and the other checks hold it to the documented error shape.
            ids_sent.update(unquote(v) for v in (case.path_parameters or {}).values())
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        name = f"{op.method.upper()} {op.path}"
        tried.append(name)
        try:
            check()
        except BaseException as err:  # schemathesis raises an exception group
            if isinstance(err, KeyboardInterrupt):
                raise
            found[name] = str(err)[:2000]
    assert len(tried) >= 17 and "POST /ratings" in tried, tried
    # An id is one percent-encoded path segment, slashes included (schemathesis sends
    # %2F only where the document's examples show an id with a slash).
    assert any("/" in x for x in ids_sent), sorted(ids_sent)[:20]
    assert not found, "\n\n".join(f"{name}:\n{text}" for name, text in found.items())


def test_errors_are_documented_as_they_are_sent(explicit_model, store):
    """FastAPI documents a 422 with a list for ``detail``; the service sends one line
    (and ``errors`` for a schema refusal), and other errors as ``{"detail": ...}``."""
    app = create_app(Settings(), store=store, source=FixedSource(explicit_model, "v-test"))
    doc = app.openapi()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            responses = op["responses"]
            assert responses["422"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/InvalidRequest"
            }, (method, path)
            assert responses["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }, (method, path)
    detail = doc["components"]["schemas"]["InvalidRequest"]["properties"]["detail"]
    assert detail["type"] == "string"
