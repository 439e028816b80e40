"""Cursor pages shaped ``{"results": [...], "next": url-or-null}``."""

from django.core.paginator import Paginator
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from perceptis.errors import InvalidRequest


class NextCursorPagination(CursorPagination):
    """Newest first; a cursor stays valid while rows are added, unlike a page number."""

    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise InvalidRequest(
                "The cursor is not valid.", fields={"cursor": ["Use the next URL as given."]}
            ) from None

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
            },
        }


PAGE_SIZE = 50


def paginate(request, items, per_page: int = PAGE_SIZE):
    """Return the page of ``items`` that ``?page=`` asks for (Developer Settings lists)."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))
