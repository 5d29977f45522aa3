"""The forms of the accounts pages: sign up, sign in (username or email), the profile."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.utils.translation import gettext_lazy as _
from wagtail.users.models import UserProfile

from ..models.teams import time_zone_names
from ..utils.time_zones import coaching_time_zone

# Wagtail's profile stores the zone in 40 characters; every IANA name fits today.
ZONE_MAX_LENGTH = UserProfile._meta.get_field("current_time_zone").max_length


def _has_field(model, name):
    try:
        model._meta.get_field(name)
    except Exception:
        return False
    return True


def _signup_fields():
    """The user model's fields a visitor fills in: names where it has them, the email, and
    the username (unless the email is the username)."""
    model = get_user_model()
    fields = [name for name in ("first_name", "last_name") if _has_field(model, name)]
    fields.append(model.get_email_field_name())
    if model.USERNAME_FIELD not in fields:
        fields.append(model.USERNAME_FIELD)
    return tuple(fields)


class SignupForm(UserCreationForm):
    """A new client: name, email, username and password. Never staff, never a superuser."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = _signup_fields()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model = self._meta.model
        self.email_field = model.get_email_field_name()
        for name, label, autocomplete in (
            ("first_name", _("First name"), "given-name"),
            ("last_name", _("Last name"), "family-name"),
            (self.email_field, _("Email"), "email"),
        ):
            if name in self.fields:
                self.fields[name].label = label
                self.fields[name].required = True
                self.fields[name].widget.attrs["autocomplete"] = autocomplete
        # The form starts at the top, not at the username (UserCreationForm's autofocus).
        for field in self.fields.values():
            field.widget.attrs.pop("autofocus", None)
        next(iter(self.fields.values())).widget.attrs["autofocus"] = True

    def clean(self):
        email = self.cleaned_data.get(self.email_field)
        if email:
            email = self.cleaned_data[self.email_field] = email.strip()
            if self._meta.model._default_manager.filter(
                **{f"{self.email_field}__iexact": email}
            ).exists():
                self.add_error(self.email_field, forms.ValidationError(
                    _("An account with this email exists already. Sign in instead."),
                    code="email_taken",
                ))
        return super().clean()

    def save(self, commit=True):
        user = super().save(commit=False)
        user.is_staff = user.is_superuser = False
        if commit:
            user.save()
        return user


class SignInForm(AuthenticationForm):
    """Django's sign-in form; the username field also takes the account's email."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Username or email")
        self.fields["username"].widget.attrs["autocomplete"] = "username"

    def clean(self):
        name = self.cleaned_data.get("username")
        if name and "@" in name:
            model = get_user_model()
            manager = model._default_manager
            if not manager.filter(**{model.USERNAME_FIELD: name}).exists():
                matches = list(
                    manager.filter(**{f"{model.get_email_field_name()}__iexact": name})
                    .values_list(model.USERNAME_FIELD, flat=True)[:2]
                )
                if len(matches) == 1:  # an email two accounts share signs in neither
                    self.cleaned_data["username"] = matches[0]
        return super().clean()


def time_zone_choices():
    default = coaching_time_zone().key
    return [("", _("The site's time zone (%(zone)s)") % {"zone": default})] + [
        (name, name.replace("_", " "))
        for name in sorted(time_zone_names())
        if len(name) <= ZONE_MAX_LENGTH
    ]


NAME_FIELDS = ("first_name", "last_name")


class ProfileForm(forms.Form):
    """The client's name and time zone. The zone is kept on Wagtail's user profile, where
    ``utils.time_zones.user_time_zone`` reads it."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    time_zone = forms.ChoiceField(
        label=_("Time zone"), required=False,
        help_text=_("Session times, due dates and reminders are shown in this zone."),
        error_messages={"invalid_choice": _(
            "This is not a time zone. Choose one from the list, such as Europe/Paris."
        )},
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        profile = getattr(user, "wagtail_userprofile", None)
        kwargs.setdefault("initial", {
            "first_name": getattr(user, "first_name", ""),
            "last_name": getattr(user, "last_name", ""),
            "time_zone": getattr(profile, "current_time_zone", ""),
        })
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        # A custom user model without names: only the zone.
        self.name_fields = [n for n in NAME_FIELDS if _has_field(get_user_model(), n)]
        for name in set(NAME_FIELDS) - set(self.name_fields):
            del self.fields[name]

    def clean(self):
        # A field missing from the POST is not an empty one: a truncated form never blanks a
        # name or resets the zone.
        missing = [name for name in self.fields if self.is_bound and name not in self.data]
        if missing:
            raise forms.ValidationError(
                _("The form arrived incomplete and nothing was saved. Please try again."),
                code="incomplete",
            )
        return super().clean()

    def save(self):
        data = self.cleaned_data
        if self.name_fields:
            for name in self.name_fields:
                setattr(self.user, name, data[name])
            self.user.save(update_fields=self.name_fields)
        profile = UserProfile.get_for_user(self.user)
        profile.current_time_zone = data["time_zone"]
        profile.save(update_fields=["current_time_zone"])
        return self.user
