from rest_framework import pagination

__all__ = ["CalypsoCursorPagination"]


class CalypsoCursorPagination(pagination.CursorPagination):
    """Cursor pagination: constant cost at any depth (no COUNT, no OFFSET) for big tables."""

    ordering = "-pk"
    page_size_query_param = "limit"
    max_page_size = 1000
