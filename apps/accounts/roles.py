"""The four roles as groups with model permissions, kept in step with the installed apps.

- Administrator: every permission.
- Operator: runs the appliance (every permission of the operational apps but exporting the backup
  key); may look up users, not manage them; no access to the audit trail.
- Auditor: read-only on everything, the audit trail included.
- Viewer: read-only on the operational apps; no audit trail, no users.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

__all__ = ["ADMINISTRATOR", "AUDITOR", "OPERATOR", "ROLES", "VIEWER", "sync_roles"]

ADMINISTRATOR, OPERATOR, AUDITOR, VIEWER = "Administrator", "Operator", "Auditor", "Viewer"
ROLES = (ADMINISTRATOR, OPERATOR, AUDITOR, VIEWER)
# Apps whose objects are the appliance itself (pools, shares, jobs, schedules...).
PLATFORM_APPS = ("admin", "auth", "contenttypes", "sessions", "guardian", "accounts", "audit")
# Operational permissions only an administrator holds: whoever exports the backup key can read every backup.
ADMINISTRATOR_ONLY = ("export_backupkey",)


def _role_permissions(role: str):
    perms = Permission.objects.all()
    view = Q(codename__startswith="view_")
    operational = ~Q(content_type__app_label__in=PLATFORM_APPS)
    if role == ADMINISTRATOR:
        return perms
    if role == OPERATOR:
        return perms.filter(operational | (view & Q(content_type__app_label="accounts"))).exclude(
            codename__in=ADMINISTRATOR_ONLY)
    if role == AUDITOR:
        return perms.filter(view)
    return perms.filter(view & operational)


def sync_roles() -> dict[str, int]:
    """Create the role groups and give each exactly its permissions; returns counts per role."""
    counts = {}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        perms = list(_role_permissions(role))
        group.permissions.set(perms)
        counts[role] = len(perms)
    return counts


def sync_roles_after_migrate(sender, **kwargs):
    """After the last app's permissions exist (post_migrate runs in app order)."""
    from django.apps import apps

    with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
    if with_models and sender is with_models[-1]:
        sync_roles()
