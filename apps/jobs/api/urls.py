from rest_framework.routers import SimpleRouter

from . import views

app_name = "jobs-api"
router = SimpleRouter()
router.register("", views.JobViewSet, basename="job")
urlpatterns = router.urls
