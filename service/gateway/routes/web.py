"""The browser surface: the page at `/`, its static files, `/docs` and `/redoc` served locally, `/catalog`.

Swagger UI and ReDoc come from the `fastapi-offline` wheel's static folder (pinned in requirements.txt),
so the API docs render without the internet; we use only its files, with FastAPI's own HTML helpers.
"""
from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from service.gateway.schemas import Catalog, ErrorResponse
from service.gateway.state import State

PAGE_DIR = Path(__file__).resolve().parents[1] / "web"
DOCS_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
router = APIRouter()
#: The pages may load code, styles, images and data from the gateway only (and blob:/data: URLs they make):
#: the browser then never contacts another host, e.g. ReDoc's footer logo on a CDN is blocked, not fetched.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' blob:; "
                           "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; worker-src 'self' blob:; "
                           "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'")
_CSP = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    """The single-page web UI."""
    return FileResponse(PAGE_DIR / "index.html", media_type="text/html", headers=_CSP)


@router.get("/catalog", response_model=Catalog, tags=["models"],
            responses={c: {"model": ErrorResponse} for c in (503, 504)})  # TorchServe down / stalled
async def catalog(state: State) -> Catalog:
    """Public and read-only: the names of the loaded models per task, and the default of each task."""
    listed = await state.client.management("GET", "/models", params={"limit": 1000})
    loaded = {m["modelName"] for m in listed.get("models", [])}
    tasks: dict[str, list[str]] = {task: [] for task in ("det", "rec", "cls", "kie")}
    for name in state.zoo.names():
        if name in loaded:
            tasks[state.zoo.models[name].task].append(name)
    return Catalog(tasks=tasks, defaults=dict(state.zoo.defaults))


def _docs_routes(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - API",
                                   swagger_js_url="/assets/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/assets/docs/swagger-ui.css",
                                   swagger_favicon_url="/assets/docs/favicon.png",
                                   swagger_ui_parameters={"validatorUrl": None})  # no badge from swagger.io
        page.headers.update(_CSP)
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} - API reference",
                              redoc_js_url="/assets/docs/redoc.standalone.js",
                              redoc_favicon_url="/assets/docs/favicon.png", with_google_fonts=False)
        page.headers.update(_CSP)
        return page


def install(app: FastAPI) -> None:
    """Add the page, its assets and the local API docs to `app` (create it with docs_url=redoc_url=None)."""
    app.mount("/assets/web", StaticFiles(directory=PAGE_DIR), name="web-assets")
    app.mount("/assets/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    app.include_router(router)
    _docs_routes(app)
