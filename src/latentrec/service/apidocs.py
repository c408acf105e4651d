"""The API's own pages, ``/docs`` (Swagger UI) and ``/redoc``, served by the service.

FastAPI's pages load Swagger UI and Redoc from a CDN and start them with an inline
script: on a machine without the internet (air-gapped, behind a strict proxy) they were
blank, and they could not be given the content security policy the rest of the service
has.  Here the scripts and stylesheets come from the ``fastapi-offline`` package (Swagger
UI 5, which reads FastAPI's OpenAPI 3.1; Redoc 2's standalone bundle), mounted at
:data:`ASSETS_URL`, and Swagger UI's initialiser is a file of the service's own
(``static/docs-swagger.js``), so every URL the pages load is the service's.

Only the package's files are used, not its code: the file names are the whole contract.
An install without the package still starts; its ``/docs`` and ``/redoc`` answer 404
naming the package to install (:data:`MISSING`).
"""

from __future__ import annotations

import html
from importlib import util
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

# The package that ships the pages' scripts and stylesheets, and where they are mounted.
ASSETS_PACKAGE = "fastapi_offline"
ASSETS_URL = "/docs/assets"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")

MISSING = (
    "the API pages need the Python package fastapi-offline, which ships Swagger UI and "
    "Redoc (pip install 'latentrec[serve]' or pip install fastapi-offline); the API's "
    "description is at /openapi.json"
)


def assets_dir() -> Path | None:
    """The folder of the pages' scripts and stylesheets, or ``None`` where the package
    (or one of its files) is not installed.

    Example:
        >>> folder = assets_dir()
        >>> folder is None or (folder / "swagger-ui-bundle.js").is_file()
        True
    """
    spec = util.find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not all((folder / name).is_file() for name in ASSET_FILES):
        return None
    return folder


def swagger_page(title: str, root: str = "") -> str:
    """The HTML of ``/docs``: Swagger UI over ``/openapi.json``, every URL the service's
    own and nothing inline (its initialiser is ``/static/docs-swagger.js``).

    Example:
        >>> page = swagger_page("latentrec <API>")
        >>> "latentrec &lt;API&gt;" in page, "<script>" in page, "https:" in page
        (True, False, False)
        >>> 'data-openapi-url="/api/openapi.json"' in swagger_page("x", root="/api")
        True
    """
    return PAGE.format(
        title=html.escape(title + " - Swagger UI"),
        head=stylesheet(f"{root}{ASSETS_URL}/swagger-ui.css") + icon(root),
        body=(
            f'<div id="swagger-ui" data-openapi-url="{html.escape(root)}/openapi.json"></div>\n'
            + script(f"{root}{ASSETS_URL}/swagger-ui-bundle.js")
            + script(f"{root}/static/docs-swagger.js")
        ),
    )


def redoc_page(title: str, root: str = "") -> str:
    """The HTML of ``/redoc``: Redoc over ``/openapi.json``, which its bundle finds in the
    ``<redoc spec-url>`` element by itself (no initialiser, no web fonts).

    Example:
        >>> page = redoc_page("latentrec")
        >>> '<redoc spec-url="/openapi.json">' in page, "<script>" in page, "https:" in page
        (True, False, False)
    """
    return PAGE.format(
        title=html.escape(title + " - ReDoc"),
        head=stylesheet(f"{root}/static/docs.css") + icon(root),
        body=(
            f'<redoc spec-url="{html.escape(root)}/openapi.json"></redoc>\n'
            + script(f"{root}{ASSETS_URL}/redoc.standalone.js")
        ),
    )


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{head}</head>
<body>
{body}</body>
</html>
"""


def stylesheet(url: str) -> str:
    return f'<link rel="stylesheet" href="{html.escape(url)}">\n'


def icon(root: str) -> str:
    return (
        f'<link rel="icon" type="image/png" href="{html.escape(root)}{ASSETS_URL}/favicon.png">\n'
    )


def script(url: str) -> str:
    return f'<script src="{html.escape(url)}"></script>\n'


def install_api_docs(app, folder: Path | None = None) -> None:
    """Add ``/docs``, ``/redoc`` and their assets to ``app`` (made with ``docs_url=None``
    and ``redoc_url=None``); ``folder``: where the assets are (default
    :func:`assets_dir`; ``None`` there: the pages answer 404 naming the package).

    Example:
        >>> from fastapi import FastAPI
        >>> app = FastAPI(docs_url=None, redoc_url=None)
        >>> install_api_docs(app)
        >>> sorted(r.path for r in app.routes if r.path in ("/docs", "/redoc"))
        ['/docs', '/redoc']
    """
    if folder is None:
        folder = assets_dir()
    if folder is not None:
        app.mount(ASSETS_URL, StaticFiles(directory=folder), name="docs-assets")

    def page(render):
        async def answer(request: Request) -> HTMLResponse:
            if folder is None:
                raise HTTPException(404, MISSING)
            return HTMLResponse(render(app.title, request.scope.get("root_path", "")))

        return answer

    app.add_api_route("/docs", page(swagger_page), methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", page(redoc_page), methods=["GET"], include_in_schema=False)
