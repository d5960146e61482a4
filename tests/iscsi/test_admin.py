"""The iSCSI admin forms: CHAP secrets are never shown, kept when left empty, sent when changed."""

import pytest


@pytest.mark.django_db
def test_the_target_form_sends_a_new_chap_secret_and_keeps_the_stored_one_when_left_empty():
    from apps.iscsi.admin import TargetForm
    from apps.iscsi.models import Target

    target = Target.objects.create(name="form-secret", chap_user="alice", chap_secret="old-secret-123")
    base = {"name": "form-secret", "iqn": target.iqn, "chap_user": "alice"}
    changed = TargetForm(data={**base, "chap_secret": "new-secret-456"}, instance=target)
    assert changed.is_valid(), changed.errors
    assert "chap_secret" in changed.changed_data and changed.cleaned_data["chap_secret"] == "new-secret-456"
    kept = TargetForm(data=base, instance=Target.objects.get(pk=target.pk))
    assert kept.is_valid(), kept.errors
    assert "chap_secret" not in kept.changed_data and kept.cleaned_data["chap_secret"] == "old-secret-123"
