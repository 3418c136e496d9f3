"""The REST API (Django REST framework) for mobile and single-page front ends.

A project includes it with one line: ``path("api/smartcar/", include("django_smartcar.api.urls"))``.
Views are thin adapters over ``django_smartcar.services``; every answer is scoped to the requesting user.
"""
