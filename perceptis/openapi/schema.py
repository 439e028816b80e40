"""``ApiAutoSchema``: each operation's errors, headers, tag and links from the code."""

from http import HTTPStatus

from drf_spectacular.openapi import AutoSchema

from perceptis.openapi import headers
from perceptis.openapi.errors import (
    BODY_ERRORS,
    CHUNKED_BODY_ERRORS,
    GENERIC_ERRORS,
    PATH_ERRORS,
    by_status,
    error_body_schema,
    error_description,
)


def _for_method(declared, method: str):
    if isinstance(declared, dict):
        return declared.get(method, declared.get(method.lower(), ()))
    return declared or ()


class ApiAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        tag = getattr(self.view, "schema_tag", None)
        return [tag] if tag else super().get_tags()

    def is_authenticated(self) -> bool:
        return bool(getattr(self.view, "authentication_classes", ()))

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and not self.is_authenticated():
            # A public operation says so: OpenAPI's explicit empty security requirement.
            operation["security"] = []
        return operation

    def operation_errors(self) -> tuple[list, set[str]]:
        """Return the error classes that can refuse this operation, and the codes among them
        that can come before the key is known (so without ``RateLimit-*`` headers)."""
        view = self.view
        before = [*GENERIC_ERRORS]
        if "{" in self.path:
            before += PATH_ERRORS
        after = []
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer():
            before += CHUNKED_BODY_ERRORS
            after += BODY_ERRORS
        for cls in getattr(view, "authentication_classes", ()):
            before += getattr(cls, "errors", ())
        for cls in [*getattr(view, "permission_classes", ()), *view.throttle_classes]:
            after += getattr(cls, "errors", ())
        after += _for_method(getattr(view, "errors", ()), self.method)
        return [*before, *after], {error.code for error in before}

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors, early = self.operation_errors()
        groups = {str(status): group for status, group in by_status(errors).items()}
        for status, group in groups.items():
            responses[status] = {
                "description": error_description(group),
                "content": {"application/json": {"schema": error_body_schema(group)}},
            }
        for status, response in responses.items():
            response["description"] = response.get("description") or HTTPStatus(int(status)).phrase
            # A status some of whose codes come before authentication has no required
            # RateLimit-* headers.
            before = any(error.code in early for error in groups.get(status, ()))
            self._add_headers(status, response, early=before)
        self._add_links(responses)
        return dict(sorted(responses.items()))

    def _add_headers(self, status: str, response: dict, *, early: bool) -> None:
        added = {"X-Request-ID": headers.request_id()}
        if self.is_authenticated() and status != "401":
            added.update(headers.rate_limit(required=not early))
        if status in ("429", "503"):
            added["Retry-After"] = headers.retry_after()
        if status == "401" and self.is_authenticated():
            added["WWW-Authenticate"] = headers.www_authenticate()
        # The view's own headers (``OpenApiParameter(response=...)``) come last and win.
        response["headers"] = {**added, **response.get("headers", {})}

    def _add_links(self, responses: dict) -> None:
        links = _for_method(getattr(self.view, "schema_links", {}), self.method)
        if not links:
            return
        success = min(code for code in responses if code.startswith("2"))
        responses[success]["links"] = {
            operation_id: {
                "operationId": operation_id,
                "parameters": parameters,
                "description": f"Use this response in `{operation_id}`.",
            }
            for operation_id, parameters in links.items()
        }
