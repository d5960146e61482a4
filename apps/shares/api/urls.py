from rest_framework.routers import SimpleRouter

from . import views

app_name = "shares-api"
router = SimpleRouter()
router.register("smb", views.SmbShareViewSet, basename="smbshare")
router.register("smb-users", views.SmbUserViewSet, basename="smbuser")
router.register("nfs", views.NfsExportViewSet, basename="nfsexport")
urlpatterns = router.urls
