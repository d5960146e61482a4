"""Login (session), token issue, the current user, own tokens, and user management."""

from django.contrib.auth import authenticate, login, logout
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from apps.accounts.models import ApiToken, User
from apps.audit import services as audit
from apps.audit.choices import Outcome
from apps.core.api import CalypsoModelViewSet, error_body

from . import serializers

__all__ = ["LoginView", "LogoutView", "MeView", "TokenIssueView", "TokenViewSet", "UserViewSet"]


class AddressRateThrottle(SimpleRateThrottle):
    """100 requests a minute per client address on the authentication endpoints."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _check_credentials(request, data):
    ser = serializers.LoginSerializer(data=data)
    ser.is_valid(raise_exception=True)
    user = authenticate(request, username=ser.validated_data["username"], password=ser.validated_data["password"])
    if user is None or not user.is_active:
        audit.record(None, "accounts.user.login", ("accounts.user", "", ser.validated_data["username"]),
                     outcome=Outcome.DENIED, message="bad credentials")
        return None, ser, Response(error_body(401, "bad_credentials", "Wrong user name or password."),
                                   status=status.HTTP_401_UNAUTHORIZED)
    return user, ser, None


class LoginView(APIView):
    """Session login for the browser."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AddressRateThrottle,)

    @extend_schema(request=serializers.LoginSerializer, responses={200: serializers.UserSerializer})
    def post(self, request):
        user, _ser, failure = _check_credentials(request, request.data)
        if failure:
            return failure
        login(request._request, user)
        audit.record(user, "accounts.user.login", user)
        return Response(serializers.UserSerializer(user).data)


class TokenIssueView(APIView):
    """Exchange a user name and password for a new API token. The key is shown in this answer only."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AddressRateThrottle,)

    @extend_schema(request=serializers.LoginSerializer, responses={201: serializers.ApiTokenSerializer})
    def post(self, request):
        user, ser, failure = _check_credentials(request, request.data)
        if failure:
            return failure
        token, key = ApiToken.issue(user, ser.validated_data["token_name"])
        audit.record(user, "accounts.apitoken.create", token)
        return Response({**serializers.ApiTokenSerializer(token).data, "key": key}, status=status.HTTP_201_CREATED)


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


class TokenViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                   viewsets.GenericViewSet):
    """The caller's own API tokens: list, create (key shown once), revoke."""

    queryset = ApiToken.objects.none()
    serializer_class = serializers.ApiTokenSerializer
    permission_classes = (IsAuthenticated,)
    throttle_classes = (AddressRateThrottle,)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user)

    def create(self, request, *args, **kwargs):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        token, key = ApiToken.issue(request.user, ser.validated_data["name"], ser.validated_data.get("expires"))
        audit.record(request.user, "accounts.apitoken.create", token)
        return Response({**self.get_serializer(token).data, "key": key}, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        ApiToken.objects.filter(pk=instance.pk).update(revoked=True)
        audit.record(self.request.user, "accounts.apitoken.revoke", instance)


class UserViewSet(CalypsoModelViewSet):
    queryset = User.objects.prefetch_related("groups").order_by("pk")
    serializer_class = serializers.UserSerializer
    filterset_fields = ("is_active", "groups__name")
    search_fields = ("username", "email", "first_name", "last_name")
