from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.monitoring.prometheus import MetricsView

api_v1 = [
    path("auth/", include("apps.accounts.api.urls")),
    path("audit/", include("apps.audit.api.urls")),
    path("jobs/", include("apps.jobs.api.urls")),
    path("system/", include("apps.system.api.urls")),
    path("storage/", include("apps.storage.api.urls")),
    path("backup/", include("apps.backup.api.urls")),
    path("shares/", include("apps.shares.api.urls")),
    path("iscsi/", include("apps.iscsi.api.urls")),
    path("monitoring/", include("apps.monitoring.api.urls")),
    path("tape/", include("apps.tape.api.urls")),
    path("bacula/", include("apps.bacula.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Split: the page loads its script from the portal, so the Content Security Policy needs no inline code.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # Prometheus scrape endpoint: the exposition format, an API token of a user who may view pools.
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("", include("apps.system.urls")),
]

# Under /api/ these answer in the API's error format; elsewhere Django's own pages.
handler400 = "apps.core.api.bad_request"
handler403 = "apps.core.api.permission_denied"
handler404 = "apps.core.api.page_not_found"
handler500 = "apps.core.api.server_error"
