from rest_framework.routers import SimpleRouter

from . import views

app_name = "bacula-api"
router = SimpleRouter()
router.register("clients", views.ClientViewSet, basename="client")
router.register("filesets", views.FileSetViewSet, basename="fileset")
router.register("schedules", views.ScheduleViewSet, basename="schedule")
router.register("storage", views.StorageViewSet, basename="storage")
router.register("pools", views.PoolViewSet, basename="pool")
router.register("jobs", views.JobViewSet, basename="backupjob")
router.register("history", views.JobRunViewSet, basename="jobrun")
router.register("volumes", views.VolumeViewSet, basename="volume")
urlpatterns = router.urls
