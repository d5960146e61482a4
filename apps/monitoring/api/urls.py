from rest_framework.routers import SimpleRouter

from . import channels, views

app_name = "monitoring-api"
router = SimpleRouter()
router.register("disks", views.DiskViewSet, basename="disk")
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("rules", views.AlertRuleViewSet, basename="alertrule")
router.register("series", views.MetricSeriesViewSet, basename="metricseries")
router.register("channels", channels.NotificationChannelViewSet, basename="notificationchannel")
router.register("deliveries", channels.DeliveryViewSet, basename="delivery")
urlpatterns = router.urls
