"""``/openapi.json``: quart-schema's generator, completed, over the structs of ``chatter.wire``.

The bodies themselves are declared in ``chatter.wire`` (once, for the
document, the responses and the UI's generated types); this module is only
the quart-schema glue.
"""

from __future__ import annotations

from typing import Any

import msgspec
from quart_schema.openapi import OpenAPIProvider

from chatter.wire import SOCKET_UNIONS, Error

# Statuses every /api operation may answer with an Error body (PROTOCOL.md section 1).
_ERRORS = {400: "Invalid input", 401: "Not authenticated", 403: "Forbidden (role or CSRF rule)",
           404: "Not found (also: a room you are not in)", 409: "Conflict", 413: "Body too large",
           429: "Rate limited (see Retry-After)", 503: "Unavailable"}
# Operations that need no session; they answer 401 only for wrong credentials.
_PUBLIC = {("/api/users", "post"), ("/api/auth/login", "post"), ("/api/auth/reset", "post")}
_REF = "#/components/schemas/{name}"
_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "room": {"type": "string", "minLength": 1, "maxLength": 64, "description": "room id"},
    "username": {"type": "string", "pattern": "^[A-Za-z0-9_]{3,32}$"},
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}


SOCKET_NOTE = ("REST under /api (docs/PROTOCOL.md sections 1-3). The WebSocket GET /ws (section 4) is not an "
               "operation here: its frames are components.schemas.ClientFrame (client to server) and "
               "components.schemas.ServerEvent (server to client), unions discriminated by the field type; "
               "the server may send a JSON array of ServerEvent objects in one text frame.")


class ChatterOpenAPI(OpenAPIProvider):
    """quart-schema's generator with every shape in ``components.schemas``.

    quart-schema 0.25 with msgspec keeps only the top-level schema of each
    model and drops the ones it refers to, so its document had 176 dangling
    ``$ref``s.  Here every body is a ``$ref`` and ``components.schemas`` is
    built once by ``msgspec.json.schema_components`` from every model the
    routes use (plus ``Error``).  Also added: bodyless responses, the
    protocol's error responses (with ``Retry-After`` on 429), path parameter
    constraints, and ``security: []`` on the operations that need no session.

    The socket (``GET /ws``) is no OpenAPI operation; its frames are the
    components ``ClientFrame`` and ``ServerEvent`` (discriminated unions on
    ``type``, one component per frame), named in ``info.description``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._models: set[type] = {Error}

    def _ref(self, model: type) -> dict[str, str]:
        self._models.add(model)
        return {"$ref": _REF.format(name=model.__name__)}

    def build_path_parameter(self, name: str, converter: Any) -> dict[str, Any]:
        param = super().build_path_parameter(name, converter)
        if name in _PATH_PARAMETERS:
            param["schema"] = dict(_PATH_PARAMETERS[name])
        return param

    def build_request_body(self, model: Any, source: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"required": True, "content": {"application/json": {"schema": self._ref(model)}}}, {}

    def build_response_object(self, model: Any, headers_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if model is None:
            return {"description": "No content"}, {}
        doc = (model.__doc__ or "").strip()
        return {"description": doc or model.__name__,
                "content": {"application/json": {"schema": self._ref(model)}}}, {}

    def schema(self) -> dict[str, Any]:
        doc: dict[str, Any] = super().schema()
        error = {"content": {"application/json": {"schema": self._ref(Error)}}}
        doc["paths"]["/metrics"] = {"get": {
            "operationId": "get_metrics", "summary": "Prometheus metrics (text exposition format)",
            "description": "Open in dev mode; otherwise needs metrics.token as a bearer token, or metrics.public.",
            "security": [{"metrics": []}, {}],
            "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                          "401": {"description": "metrics.token is set and was not given", **error},
                          "403": {"description": "not public outside dev mode", **error}}}}
        doc["components"].setdefault("securitySchemes", {})["metrics"] = {
            "type": "http", "scheme": "bearer", "description": "the metrics.token setting"}
        for path, ops in doc.get("paths", {}).items():
            for method, op in ops.items():
                op["responses"] = responses = {str(k): v for k, v in op.get("responses", {}).items()}
                if path.startswith("/api/"):
                    for status, text in _ERRORS.items():
                        responses.setdefault(str(status), {"description": text, **error})
                    responses["429"]["headers"] = _RETRY_AFTER
                if (path, method) in _PUBLIC or path == "/healthz":
                    op["security"] = []
        models = sorted(self._models, key=lambda m: m.__name__)
        schemas, components = msgspec.json.schema_components([*models, *SOCKET_UNIONS.values()], ref_template=_REF)
        components.update(zip(SOCKET_UNIONS, schemas[len(models):], strict=True))
        doc.setdefault("components", {})["schemas"] = dict(sorted(components.items()))
        doc["info"]["description"] = SOCKET_NOTE
        return doc
