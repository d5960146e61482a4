from rest_framework.routers import SimpleRouter

from . import views

app_name = "storage-api"
router = SimpleRouter()
router.register("pools", views.PoolViewSet, basename="pool")
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("snapshots", views.SnapshotViewSet, basename="snapshot")
router.register("events", views.StorageEventViewSet, basename="event")
router.register("snapshot-policies", views.SnapshotPolicyViewSet, basename="snapshotpolicy")
urlpatterns = router.urls
