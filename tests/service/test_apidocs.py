"""The API's pages, /docs and /redoc, over real HTTP: every URL they load is the service's
own (they worked only with the internet: Swagger UI and Redoc came from a CDN), /docs
runs under the service's strict content security policy, and an install without the
package that ships the bundles still starts and says what to install.

A browser loading the pages with no internet is in tests/service/test_browser.py.
"""

from __future__ import annotations

import re

import httpx
import pytest

from latentrec.service import apidocs
from latentrec.service.app import create_app
from latentrec.service.hardening import PAGE_POLICY, REDOC_POLICY
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings

from .serving import served_in_thread

# What the browser loads from a page: <script src>, <link href>, and the document's URL
# the page's script fetches (data-openapi-url, Redoc's spec-url).
LOADED = re.compile(r'\b(?:src|href|data-openapi-url|spec-url)="([^"]*)"')

CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


@pytest.fixture
def served(store, explicit_model):
    app = create_app(Settings(), store=store, source=FixedSource(explicit_model, "v-docs"))
    with served_in_thread(app) as (url, _):
        yield url


def loaded_urls(page: str) -> list[str]:
    return LOADED.findall(page)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_pages_load_only_the_services_own_files(served, path):
    r = httpx.get(served + path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "cdn" not in page.lower() and "https://" not in page and "http://" not in page
    urls = loaded_urls(page)
    assert any(u.endswith(".js") for u in urls), page
    assert "/openapi.json" in urls, page
    for url in urls:
        # Same origin: a path on this service, never another host ("//host/...").
        assert url.startswith("/") and not url.startswith("//"), url
        asset = httpx.get(served + url)
        assert asset.status_code == 200, (url, asset.text[:200])
        suffix = url[url.rfind(".") :]
        kind = asset.headers["content-type"].split(";")[0].strip()
        assert kind in CONTENT_TYPES[suffix], (url, kind)


def test_docs_run_under_the_services_strict_policy_with_nothing_inline(served):
    r = httpx.get(served + "/docs")
    policy = r.headers["content-security-policy"]
    assert policy == PAGE_POLICY
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # What that policy would block: an inline script, an inline style, a handler.
    page = r.text
    assert "<script>" not in page and "<style" not in page and " style=" not in page
    assert not re.search(r"<[^>]*\son\w+=", page), page
    assert r.headers["x-frame-options"] == "DENY"


def test_redoc_gets_inline_styles_and_blob_workers_and_nothing_more(served):
    r = httpx.get(served + "/redoc")
    policy = r.headers["content-security-policy"]
    assert policy == REDOC_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    strict = dict(d.strip().split(" ", 1) for d in PAGE_POLICY.split(";"))
    assert directives.pop("style-src") == "'self' 'unsafe-inline'"
    assert directives.pop("worker-src") == "blob:"
    del strict["style-src"]
    assert directives == strict
    assert "<script>" not in r.text and "<style" not in r.text


def test_the_swagger_initialiser_reaches_nothing_but_the_service(served):
    script = httpx.get(served + "/static/docs-swagger.js").text
    assert "SwaggerUIBundle(" in script and "dataset.openapiUrl" in script
    # Swagger UI's default shows a badge fetched from validator.swagger.io.
    assert "validatorUrl: null" in script
    assert "https://" not in script.replace("// ", "")


def test_the_pages_follow_the_root_path_a_proxy_gives():
    page = apidocs.swagger_page("t", root="/api")
    assert all(u.startswith("/api/") for u in loaded_urls(page)), page
    page = apidocs.redoc_page("t", root="/api")
    assert all(u.startswith("/api/") for u in loaded_urls(page)), page


def test_without_the_package_the_service_starts_and_the_pages_name_it(
    store, explicit_model, monkeypatch
):
    monkeypatch.setattr(apidocs, "ASSETS_PACKAGE", "latentrec_no_such_package")
    assert apidocs.assets_dir() is None
    app = create_app(Settings(), store=store, source=FixedSource(explicit_model, "v-old"))
    with served_in_thread(app) as (url, _):
        assert httpx.get(url + "/health").status_code == 200
        assert httpx.get(url + "/openapi.json").status_code == 200
        for path in ("/docs", "/redoc"):
            r = httpx.get(url + path)
            assert r.status_code == 404, (path, r.text)
            detail = r.json()["detail"]
            assert "fastapi-offline" in detail and "/openapi.json" in detail
        assert httpx.get(url + "/docs/assets/swagger-ui-bundle.js").status_code == 404


def test_a_package_missing_one_of_its_files_counts_as_missing(tmp_path, monkeypatch):
    # An install of another version that renamed a bundle: a clear 404, not a blank page.
    package = tmp_path / "latentrec_fake_assets"
    (package / "static").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in apidocs.ASSET_FILES[:-1]:
        (package / "static" / name).write_text("x")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(apidocs, "ASSETS_PACKAGE", "latentrec_fake_assets")
    assert apidocs.assets_dir() is None
    (package / "static" / apidocs.ASSET_FILES[-1]).write_text("x")
    assert apidocs.assets_dir() == package / "static"
