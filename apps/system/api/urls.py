from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "system-api"
router = SimpleRouter()
router.register("inventory", views.HostInventoryViewSet, basename="inventory")
urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path("health/", views.HealthView.as_view()),
    path("version", views.VersionView.as_view(), name="version"),
    path("version/", views.VersionView.as_view()),
    *router.urls,
]
