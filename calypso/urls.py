from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("auth/", include("apps.accounts.api.urls")),
    path("audit/", include("apps.audit.api.urls")),
    path("jobs/", include("apps.jobs.api.urls")),
    path("system/", include("apps.system.api.urls")),
    path("storage/", include("apps.storage.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("apps.system.urls")),
]
