from rest_framework.routers import SimpleRouter

from . import views

app_name = "tape-api"
router = SimpleRouter()
router.register("libraries", views.LibraryViewSet, basename="library")
router.register("drives", views.DriveViewSet, basename="drive")
router.register("slots", views.SlotViewSet, basename="slot")
router.register("media", views.MediumViewSet, basename="medium")
router.register("pools", views.MediaPoolViewSet, basename="mediapool")
urlpatterns = router.urls
