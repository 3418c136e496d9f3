"""The benchmark site's URLs: the app, its REST API, and a bare view that is the floor to compare with."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def bare(request: HttpRequest) -> JsonResponse:
    """Reads the body and answers, nothing more: what any Django view costs under the same server."""
    return JsonResponse({"status": "received", "bytes": len(request.body)})


urlpatterns = [
    path("smartcar/", include("django_smartcar.urls")),
    path("api/smartcar/", include("django_smartcar.api.urls")),
    path("bare/", bare),
]
