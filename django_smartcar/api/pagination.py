"""The API's pagination when the project configures none (``REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]``)."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class SmartcarPagination(PageNumberPagination):
    """``?page=2&page_size=100``: 50 items a page by default, never more than 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
