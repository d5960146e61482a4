from django.urls import re_path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "system-api"
router = SimpleRouter()
router.register("inventory", views.HostInventoryViewSet, basename="inventory")
urlpatterns = [
    re_path(r"^health/?$", views.HealthView.as_view(), name="health"),
    re_path(r"^version/?$", views.VersionView.as_view(), name="version"),
    *router.urls,
]
