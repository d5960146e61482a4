"""Login (session), token issue, the current user, own tokens, and user management."""

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from apps.accounts import guard
from apps.accounts.models import ApiToken, User
from apps.accounts.operations import MY_TOKENS, USER
from apps.audit import services as audit
from apps.audit.choices import Outcome
from apps.core.api import CalypsoViewSet, error_body
from apps.core.clients import client_address

from . import serializers

__all__ = ["LoginView", "LogoutView", "MeView", "TokenIssueView", "TokenViewSet", "UserViewSet"]


class AddressRateThrottle(SimpleRateThrottle):
    """100 requests a minute per client address on the authentication endpoints. The address is the
    TCP peer's, or what a trusted proxy forwarded (never a client's own ``X-Forwarded-For``)."""

    scope = "auth"

    def get_ident(self, request):
        return client_address(request) or "-"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _SignInView(APIView):
    """Open to anonymous clients, throttled per address, guarded per account and address (apps.accounts.guard):
    checks a user name and password, then ``signed_in(request, user, data)`` answers. A refusal is audited
    as denied."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AddressRateThrottle,)

    def post(self, request):
        ser = serializers.LoginSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        target = ("accounts.user", "", data["username"])
        wait = guard.wait_seconds(data["username"], client_address(request))
        if wait:
            audit.record(None, "accounts.user.login", target, outcome=Outcome.DENIED,
                         message=f"too many failed sign-ins from this address: locked for {wait} s")
            return Response(error_body(429, "sign_in_locked",
                                       f"Too many failed sign-ins for this account from your address: "
                                       f"try again in {wait} s."),
                            status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(wait)})
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            audit.record(None, "accounts.user.login", target, outcome=Outcome.DENIED, message="bad credentials")
            return Response(error_body(401, "bad_credentials", "Wrong user name or password."),
                            status=status.HTTP_401_UNAUTHORIZED)
        return self.signed_in(request, user, data)


def _csrf_refusal(request) -> Response | None:
    """DRF's session CSRF check (token and Origin), for a view that runs before any session exists."""
    try:
        SessionAuthentication().enforce_csrf(request)
    except PermissionDenied as exc:
        return Response(error_body(403, "csrf_failed", f"{exc.detail}. Get a token with GET first and send it in "
                                   "the X-CSRFToken header from the portal's own origin."),
                        status=status.HTTP_403_FORBIDDEN)
    return None


@extend_schema(request=serializers.LoginSerializer, responses={200: serializers.UserSerializer})
class LoginView(_SignInView):
    """Session login for the browser. Like any form that sets a session, it is CSRF-protected: ``GET``
    gives the token (and its cookie), ``POST`` must send it back from the portal's own origin. API
    clients use ``POST /auth/token/`` instead, which sets no cookie."""

    @extend_schema(request=None, responses={200: inline_serializer("CsrfToken", {
        "csrf_token": drf_serializers.CharField()})})
    def get(self, request):
        return Response({"csrf_token": get_token(request._request)})

    def post(self, request):
        refused = _csrf_refusal(request._request)
        if refused is not None:
            return refused
        return super().post(request)

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
