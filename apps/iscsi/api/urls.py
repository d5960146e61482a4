from rest_framework.routers import SimpleRouter

from . import views

app_name = "iscsi-api"
router = SimpleRouter()
router.register("portals", views.PortalViewSet, basename="portal")
router.register("initiator-groups", views.GroupViewSet, basename="initiatorgroup")
router.register("targets", views.TargetViewSet, basename="target")
router.register("luns", views.LunViewSet, basename="lun")
urlpatterns = router.urls
