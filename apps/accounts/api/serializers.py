from django.contrib.auth.models import Group
from rest_framework import serializers

from apps.accounts.models import ApiToken, User

__all__ = ["ApiTokenIssuedSerializer", "ApiTokenSerializer", "LoginSerializer", "UserSerializer"]


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=512, write_only=True, style={"input_type": "password"})
    token_name = serializers.CharField(max_length=100, required=False, default="api")


class ApiTokenSerializer(serializers.ModelSerializer):
    prefix = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ("id", "name", "prefix", "created", "expires", "last_used", "revoked")
        read_only_fields = ("id", "prefix", "created", "last_used", "revoked")

    def get_prefix(self, obj) -> str:
        return f"cal_{obj.key_id}"


class ApiTokenIssuedSerializer(ApiTokenSerializer):
    """A token just issued: the only answer that carries its key."""

    key = serializers.CharField(read_only=True)

    class Meta(ApiTokenSerializer.Meta):
        fields = (*ApiTokenSerializer.Meta.fields, "key")


class UserSerializer(serializers.ModelSerializer):
    roles = serializers.SlugRelatedField(source="groups", slug_field="name", many=True,
                                         queryset=Group.objects.all(), required=False)
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ("id", "username", "first_name", "last_name", "email", "is_active", "is_superuser", "roles",
                  "last_login", "date_joined", "password")
        read_only_fields = ("id", "last_login", "date_joined", "is_superuser")
