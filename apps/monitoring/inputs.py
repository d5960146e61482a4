"""One serializer per monitoring operation: the API body and the admin form."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .choices import SelfTestKind

__all__ = ["SelfTestInput"]


class SelfTestInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SelfTestKind.choices, default=SelfTestKind.SHORT, help_text=_(
        "short: about two minutes; long: reads the whole surface (hours on a large disk)."))
