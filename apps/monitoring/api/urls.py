from rest_framework.routers import SimpleRouter

from . import views

app_name = "monitoring-api"
router = SimpleRouter()
router.register("disks", views.DiskViewSet, basename="disk")
urlpatterns = router.urls
