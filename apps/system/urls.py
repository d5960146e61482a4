from django.urls import path
from django.views.generic import RedirectView

from .health import liveness

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # The one page open to anonymous clients outside sign-in: "ok" or 503, nothing more (see health.liveness).
    path("healthz", liveness, name="healthz"),
]
