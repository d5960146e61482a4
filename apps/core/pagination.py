from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination

__all__ = ["CalypsoCursorPagination"]


class CalypsoCursorPagination(pagination.CursorPagination):
    """Cursor pagination: constant cost at any depth (no COUNT, no OFFSET) for big tables. A ``limit`` that
    is not a whole number from 1 up, or a cursor this API did not hand out, is a 400 naming it."""

    ordering = "-pk"
    page_size_query_param = "limit"
    max_page_size = 1000
    invalid_cursor_message = _("Not a cursor from a previous page: use the next or previous link as given.")

    def get_page_size(self, request):
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        try:
            size = int(given)
        except ValueError:
            size = 0
        if size < 1:
            raise exceptions.ValidationError({self.page_size_query_param: [
                _("A whole number from 1 (at most %(max)s rows are sent).") % {"max": self.max_page_size}]})
        return min(size, self.max_page_size)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise self._invalid_cursor() from None

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, OverflowError, DjangoValidationError):
            # A forged cursor's position that the ordering column cannot compare with.
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise self._invalid_cursor() from None

    def _invalid_cursor(self) -> exceptions.ValidationError:
        return exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
