"""What can be done to users and tokens: administrators manage users and revoke any token; every user
issues and revokes their own tokens (``AUTHENTICATED``: the viewset shows a user only their own)."""

from django.utils.translation import gettext_lazy as _

from apps.core.operations import AUTHENTICATED, Operation, Operations

from . import services
from .api import serializers
from .models import ApiToken, User

__all__ = ["MY_TOKENS", "TOKEN", "USER"]

USER = Operations(
    User,
    Operation("create", services.USERS.create, input=serializers.UserSerializer, detail=False,
              example={"username": "ops1", "password": "a long passphrase 42", "roles": ["Operator"]}),
    Operation("update", services.USERS.update, input=serializers.UserSerializer, partial=True,
              example={"is_active": False}),
    Operation("delete", services.USERS.delete, destructive=True, confirm=lambda user: user.username,
              help=_("The account is gone; its audit events keep its name.")),
)

TOKEN = Operations(
    ApiToken,
    Operation("delete", services.revoke_token, bulk=True, label=_("Revoke"), when=lambda token: not token.revoked,
              help=_("The token answers 401 from now on.")),
)

MY_TOKENS = Operations(
    ApiToken,
    Operation("create", services.issue_token, input=serializers.ApiTokenSerializer, detail=False,
              permission=AUTHENTICATED, output=serializers.ApiTokenIssuedSerializer, example={"name": "monitoring"}),
    Operation("delete", services.revoke_token, permission=AUTHENTICATED, label=_("Revoke")),
)
