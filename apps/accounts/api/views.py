"""Login (session), token issue, the current user, own tokens, and user management."""

from django.contrib.auth import authenticate, login, logout
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from apps.accounts.models import ApiToken, User
from apps.accounts.operations import MY_TOKENS, USER
from apps.audit import services as audit
from apps.audit.choices import Outcome
from apps.core.api import CalypsoViewSet, error_body

from . import serializers

__all__ = ["LoginView", "LogoutView", "MeView", "TokenIssueView", "TokenViewSet", "UserViewSet"]


class AddressRateThrottle(SimpleRateThrottle):
    """100 requests a minute per client address on the authentication endpoints."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _SignInView(APIView):
    """Open to anonymous clients, throttled per address: checks a user name and password, then
    ``signed_in(request, user, data)`` answers. A refusal is audited as denied."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AddressRateThrottle,)

    def post(self, request):
        ser = serializers.LoginSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            audit.record(None, "accounts.user.login", ("accounts.user", "", data["username"]), outcome=Outcome.DENIED,
                         message="bad credentials")
            return Response(error_body(401, "bad_credentials", "Wrong user name or password."),
                            status=status.HTTP_401_UNAUTHORIZED)
        return self.signed_in(request, user, data)


@extend_schema(request=serializers.LoginSerializer, responses={200: serializers.UserSerializer})
class LoginView(_SignInView):
    """Session login for the browser."""

    def signed_in(self, request, user, data) -> Response:
        login(request._request, user)
        audit.record(user, "accounts.user.login", user)
        return Response(serializers.UserSerializer(user).data)


@extend_schema(request=serializers.LoginSerializer, responses={201: serializers.ApiTokenIssuedSerializer})
class TokenIssueView(_SignInView):
    """Exchange a user name and password for a new API token. The key is shown in this answer only."""

    def signed_in(self, request, user, data) -> Response:
        token = MY_TOKENS["create"].run(actor=user, data={"name": data["token_name"]})
        return Response(serializers.ApiTokenIssuedSerializer(token).data, status=status.HTTP_201_CREATED)


class LogoutView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        audit.record(request.user, "accounts.user.logout", request.user)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(responses=serializers.UserSerializer)
    def get(self, request):
        data = serializers.UserSerializer(request.user).data
        data["permissions"] = sorted(request.user.get_all_permissions())
        return Response(data)


class TokenViewSet(CalypsoViewSet):
    """The caller's own API tokens: list, create (key shown once), revoke."""

    queryset = ApiToken.objects.all()
    serializer_class = serializers.ApiTokenSerializer
    throttle_classes = (AddressRateThrottle,)
    operations = MY_TOKENS
    owner_field = "user"


class UserViewSet(CalypsoViewSet):
    queryset = User.objects.prefetch_related("groups").order_by("pk")
    serializer_class = serializers.UserSerializer
    filterset_fields = ("is_active", "groups__name")
    search_fields = ("username", "email", "first_name", "last_name")
    operations = USER
