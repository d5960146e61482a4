from rest_framework.routers import SimpleRouter

from . import views

app_name = "backup-api"
router = SimpleRouter()
router.register("targets", views.TargetViewSet, basename="target")
router.register("tasks", views.BackupTaskViewSet, basename="backuptask")
router.register("sent-snapshots", views.SentSnapshotViewSet, basename="sentsnapshot")
router.register("keys", views.BackupKeyViewSet, basename="backupkey")
router.register("ssh-identities", views.SshIdentityViewSet, basename="sshidentity")
urlpatterns = router.urls
