"""Refuse requests that no view can answer safely, before any view or query sees them.

- Control characters (NUL above all) in the path or the query string, on every page, the admin
  and the API alike: PostgreSQL refuses NUL in text, so such a value would otherwise reach a
  query and end in a 500. A path names no resource then (404); a query is refused (400).
  Header values are left to the code that reads them (a NUL in ``Authorization`` is an
  invalid key, 401; the user agent is cleaned when stored).
- A chunked request body under ``/api/``: WSGI gives Django no length, so it would read the
  body as empty; it is refused with ``411 length_required`` instead.

API paths get the API's JSON error body; other paths a plain-text one.
"""

from urllib.parse import unquote

from django.http import HttpResponse

from perceptis.error_views import is_api_path, json_error_response
from perceptis.errors import LengthRequired
from perceptis.redaction import has_controls


class RequestGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if has_controls(request.path):
            return self._refuse(request, 404, "not_found", "No such resource.")
        if has_controls(unquote(request.META.get("QUERY_STRING", ""))):
            message = "The query string contains control characters."
            return self._refuse(request, 400, "invalid_request", message)
        if is_api_path(request):
            chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
            if chunked and not request.META.get("CONTENT_LENGTH"):
                error = LengthRequired()
                return json_error_response(error.code, error.message, error.status_code)
        return self.get_response(request)

    @staticmethod
    def _refuse(request, status: int, code: str, message: str):
        if is_api_path(request):
            return json_error_response(code, message, status)
        return HttpResponse(message, status=status, content_type="text/plain")
