"""Inputs of the iSCSI operations that are not resource edits (the API body and the admin form)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

__all__ = ["IscsiConfigOutput", "IscsiSessionOutput", "IscsiSessionsOutput"]


class IscsiSessionOutput(serializers.Serializer):
    target = serializers.CharField(help_text=_("The target's IQN."))
    initiator = serializers.CharField(help_text=_("The initiator's IQN."))
    addresses = serializers.ListField(child=serializers.CharField(), help_text=_("Its connections' addresses."))
    session_id = serializers.CharField(allow_blank=True)


class IscsiSessionsOutput(serializers.Serializer):
    sessions = IscsiSessionOutput(many=True)


class IscsiConfigOutput(serializers.Serializer):
    backend = serializers.CharField(help_text=_("tgt or scst."))
    path = serializers.CharField(help_text=_("The file the backend writes."))
    text = serializers.CharField(help_text=_("Its contents for the current configuration (CHAP secrets shown as ********)."))
