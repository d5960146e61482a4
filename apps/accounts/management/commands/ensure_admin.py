"""Create the first administrator when none exists; print a generated password once."""

import os
import secrets

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from apps.accounts.models import User
from apps.accounts.roles import ADMINISTRATOR, sync_roles
from apps.audit import context
from apps.audit import services as audit
from apps.audit.choices import AuditSource


class Command(BaseCommand):
    help = "Create an administrator (CALYPSO_ADMIN_USER, CALYPSO_ADMIN_PASSWORD) if there is none."

    def handle(self, *args, **options):
        if User.objects.filter(is_superuser=True, is_active=True).exists():
            return
        username = os.environ.get("CALYPSO_ADMIN_USER") or "admin"
        password = os.environ.get("CALYPSO_ADMIN_PASSWORD") or ""
        generated = not password
        if generated:
            password = secrets.token_urlsafe(15)
        sync_roles()
        with context.use(context.AuditContext(source=AuditSource.CLI)):
            user, _ = User.objects.get_or_create(username=username)
            user.is_superuser = user.is_staff = user.is_active = True
            user.set_password(password)
            user.save()
            user.groups.add(*Group.objects.filter(name=ADMINISTRATOR))
            audit.record(None, "accounts.user.create", user, message="first administrator")
        self.stdout.write(self.style.SUCCESS(f"Administrator '{username}' created."))
        if generated:
            self.stdout.write(f"Its password (shown once): {password}")
