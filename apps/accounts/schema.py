"""OpenAPI description of Calypso's token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

__all__ = ["TokenAuthenticationScheme"]


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token cal_<id>.<secret>` from POST /api/v1/auth/token/"}
