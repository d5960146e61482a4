"""Admin forms built from an operation's input serializer. The form only draws fields and turns what
the browser posts into the serializer's data (text lines into lists, ``key=value`` lines into dicts); the
serializer stays the one validator, so the admin and the API refuse the same input with the same words."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import relations, serializers

from .errors import BackendError, ServiceError, field_errors

__all__ = ["KeepSecretsForm", "KeyValueField", "LinesField", "OperationForm", "SuggestedListField", "TextLinesField",
           "lines", "secret_box"]


def lines(text: str) -> list[str]:
    """Textarea -> non-empty items; newlines, commas and spaces separate."""
    return [part for line in (text or "").splitlines() for part in line.replace(",", " ").split() if part]


class _ParsedText(forms.CharField):
    """A text box whose value is parsed into a structure; changed means the structure changed."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != self.to_python(self.prepare_value(initial) if initial else "")
        except ValidationError:
            return True


class LinesField(_ParsedText):
    """A list of words, one per line (commas and spaces also separate)."""

    def prepare_value(self, value):
        return "\n".join(map(str, value)) if isinstance(value, (list, tuple)) else value

    def to_python(self, value):
        return lines(super().to_python(value))


class TextLinesField(_ParsedText):
    """A list of texts, one per line (spaces kept inside a line: a schedule's Run lines, paths)."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60})

    def prepare_value(self, value):
        return "\n".join(map(str, value)) if isinstance(value, (list, tuple)) else value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        return [line.strip() for line in (super().to_python(value) or "").splitlines() if line.strip()]


class KeyValueField(_ParsedText):
    """``key=value`` lines as a dict; ``key=`` gives an empty value."""

    def prepare_value(self, value):
        return "\n".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value

    def to_python(self, value):
        out = {}
        for line in (super().to_python(value) or "").splitlines():
            if not line.strip():
                continue
            key, sep, val = line.partition("=")
            if not sep or not key.strip():
                raise ValidationError(_("Write one key=value per line: %(l)s") % {"l": line.strip()})
            out[key.strip()] = val.strip()
        return out


class _SuggestedWidget(forms.MultiWidget):
    def decompress(self, value):
        offered = {choice for choice, _label in self.widgets[0].choices}
        value = value or []
        return [[v for v in value if v in offered], "\n".join(v for v in value if v not in offered)]


class SuggestedListField(forms.MultiValueField):
    """Checkboxes for the suggested items and a text box for any others; the value is one list."""

    def __init__(self, choices, **kwargs):
        fields = (forms.MultipleChoiceField(choices=choices, required=False), LinesField(required=False))
        widget = _SuggestedWidget((forms.CheckboxSelectMultiple(choices=choices), LinesField.widget))
        super().__init__(fields, widget=widget, require_all_fields=False, **kwargs)

    def compress(self, data_list):
        picked, others = (list(data_list) + [[], []])[:2]
        return [*(picked or []), *(others or [])]


def _choices(field) -> list:
    blank = not field.required and field.default is serializers.empty
    return [("", "---------")] * blank + [(k, v) for k, v in field.choices.items()]


def form_field(field: serializers.Field) -> forms.Field | None:
    """The form field that draws ``field``; None for what only the API takes (nested structures)."""
    common = {"required": field.required, "label": field.label, "help_text": field.help_text or ""}
    style = field.style or {}
    if isinstance(field, relations.ManyRelatedField):
        return forms.ModelMultipleChoiceField(queryset=field.child_relation.get_queryset(), **common)
    if isinstance(field, relations.PrimaryKeyRelatedField):
        return forms.ModelChoiceField(queryset=field.get_queryset(), **common)
    if isinstance(field, serializers.BooleanField):
        return forms.BooleanField(**{**common, "required": False})
    if isinstance(field, serializers.MultipleChoiceField):
        return forms.MultipleChoiceField(choices=field.choices.items(), widget=forms.CheckboxSelectMultiple,
                                         **common)
    if isinstance(field, serializers.ChoiceField):
        return forms.ChoiceField(choices=_choices(field), **common)
    if isinstance(field, serializers.IntegerField):
        return forms.IntegerField(**common)
    if isinstance(field, serializers.ListField) and isinstance(field.child, serializers.CharField):
        if "suggestions" in style:
            choices, note = style["suggestions"]()
            return SuggestedListField(choices, **{**common, "help_text": f"{common['help_text']} {note}".strip()})
        return LinesField(**common)
    if isinstance(field, serializers.DictField) and isinstance(field.child, serializers.CharField):
        return KeyValueField(**common)
    if isinstance(field, serializers.CharField) and not isinstance(field, serializers.ChoiceField):
        widget = forms.Textarea(attrs={"rows": 4, "cols": 60}) if style.get("base_template") == "textarea.html" \
            else None
        return forms.CharField(widget=widget, max_length=field.max_length, **common)
    return None


def _payload_value(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, (list, tuple)) or hasattr(value, "model"):
        return [_payload_value(v) for v in value]
    return value


class OperationForm(forms.Form):
    """The admin page of one operation: fields drawn from its input serializer, validated by it."""

    def __init__(self, op, obj=None, *, request=None, data=None, initial: dict | None = None) -> None:
        self.op, self.obj, self.request = op, obj, request
        self.validated_data: dict = {}
        self._serializer_fields = op.serializer(obj, request=request).fields
        defaults = {**(op.initial(obj) if op.initial and obj is not None else {}), **(initial or {})}
        super().__init__(data, initial=defaults)
        for name, sfield in self._serializer_fields.items():
            if sfield.read_only or (field := form_field(sfield)) is None:
                continue
            default = sfield.initial if sfield.default is serializers.empty else sfield.default
            if name not in defaults and default not in (None, serializers.empty, "", [], {}):
                self.initial[name] = default() if callable(default) else default
            if name == "confirm" and op.destructive and obj is not None:
                field.label = _("Type %(name)s to confirm") % {"name": op.confirm(obj)}
            self.fields[name] = field

    def _payload(self) -> dict:
        data = {}
        for name in self.fields:
            value = self.cleaned_data.get(name)
            sfield = self._serializer_fields[name]
            if self.op.partial and self.obj is not None:
                if name in self.changed_data:
                    data[name] = "" if value is None else _payload_value(value)
            elif value not in (None, "", [], {}) or sfield.required or isinstance(value, bool):
                data[name] = _payload_value(value)
        return data

    def clean(self):
        super().clean()
        if self.errors:
            return self.cleaned_data
        payload = self._payload()
        if self.op.partial and self.obj is not None and not payload:
            raise ValidationError(_("Nothing changed."))
        serializer = self.op.serializer(self.obj, data=payload, request=self.request)
        if serializer.is_valid():
            self.validated_data = serializer.validated_data
        else:
            self.op.refused(getattr(self.request, "user", None), self.obj, serializer.errors)
            for key, messages in field_errors(serializer.errors).items():
                field, __, inner = key.partition(".")  # an item's error goes on its list, naming the item
                self._add(field, f"{inner}: {' '.join(messages)}" if inner else " ".join(messages))
        return self.cleaned_data

    def add_service_error(self, exc: Exception) -> None:
        """A refusal from the service: on the field it names, else above the form."""
        if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                self._add(name, " ".join(m for e in errors for m in e.messages))
        elif isinstance(exc, ValidationError):
            self.add_error(None, exc)
        elif isinstance(exc, ServiceError):
            self._add(exc.field, exc.message)
        elif isinstance(exc, BackendError):
            self._add(None, exc.message)

    def _add(self, field: str | None, message: str) -> None:
        if field in self.fields and field not in self.errors:
            self.add_error(field, message)
        elif field in self.fields:
            self.errors[field].append(message)
        else:
            self.add_error(None, f"{field}: {message}" if field and field != "non_field_errors" else message)



def secret_box(help_text: str) -> forms.CharField:
    """A password box for a stored secret: never filled in with it."""
    return forms.CharField(required=False, strip=False, widget=forms.PasswordInput(render_value=False),
                           help_text=help_text)


class KeepSecretsForm(forms.ModelForm):
    """A model form whose ``secret_names`` are never shown: an empty box keeps the stored value, and the update
    sends a secret only when it differs from the one stored (read before the form touched the instance)."""

    secret_names: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stored = {name: (getattr(self.instance, name) if self.instance.pk else "") or ""
                       for name in self.secret_names}

    def clean(self):
        data = super().clean()
        for name in self.secret_names:
            if not data.get(name):
                data[name] = self.stored[name]
        return data

    @property
    def changed_data(self):
        changed = super().changed_data
        return [name for name in changed
                if name not in self.secret_names or self.cleaned_data.get(name) != self.stored[name]]
