from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.utils.translation import gettext as _

from apps.core.admin import CalypsoModelAdmin

from .models import ApiToken, User
from .operations import TOKEN, USER
from .services import USERS


@admin.register(User)
class UserAdmin(DjangoUserAdmin, CalypsoModelAdmin):
    list_display = ("username", "email", "is_active", "is_superuser", "role_list", "last_login")
    list_filter = ("is_active", "is_superuser", "groups")
    operations = USER
    model_forms = True

    @admin.display(description="Roles")
    def role_list(self, obj):
        return ", ".join(g.name for g in obj.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        fields = {k: v for k, v in form.cleaned_data.items() if k in USERS.fields and v not in (None, "")}
        user = USER["create"].run(actor=request.user, data={**fields, "password": form.cleaned_data.get("password1")})
        obj.pk, obj._state.adding = user.pk, False
        return None

    def user_change_password(self, request, id, form_url=""):
        """The password page saves through the update operation, so the change is validated and audited."""
        user = self.get_object(request, unquote(id))
        if user is None:
            raise Http404
        if request.method != "POST":
            return super().user_change_password(request, id, form_url)
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        form = AdminPasswordChangeForm(user, request.POST)
        if not form.is_valid():
            return super().user_change_password(request, id, form_url)
        USER["update"].run(actor=request.user, obj=user, data={"password": form.cleaned_data["password1"]})
        self.message_user(request, _("Password changed."), messages.SUCCESS)
        return HttpResponseRedirect(self.url_of(user))


@admin.register(ApiToken)
class ApiTokenAdmin(CalypsoModelAdmin):
    list_display = ("name", "user", "key_id", "created", "expires", "last_used", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "user__username", "key_id")
    readonly_fields = ("name", "user", "key_id", "created", "expires", "last_used", "revoked")
    fields = readonly_fields
    operations = TOKEN
