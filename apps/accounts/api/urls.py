from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "accounts-api"
router = SimpleRouter()
router.register("tokens", views.TokenViewSet, basename="token")
router.register("users", views.UserViewSet, basename="user")

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("token/", views.TokenIssueView.as_view(), name="token-issue"),
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
]
