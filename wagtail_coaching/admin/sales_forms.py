"""The Sales menu's forms: the manual grant, a sales manager's referral code and the
actions on an enquiry (reply, status, grant, personal checkout link).

People are chosen from lists the permission layer's roles define (``users_with_role``) and
named as everywhere in the admin (``person``): the buyer among clients, the sales manager
among sales managers. Nothing here changes data; the views call the services.
"""

import uuid
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.forms import WagtailAdminModelForm

from ..journeys.clients import account_with_email
from ..models import Cohort, Company, EnquiryStatus, OfferPage, OfferPrice, SalesManagerProfile
from ..models.offers import currency_validator
from ..payments.errors import PaymentError
from ..payments.fulfilment import check_grant
from ..permissions import ROLE_CLIENT, ROLE_SALES_MANAGER, is_staff_role, users_with_role
from .display import person

PEOPLE_ORDER = ("first_name", "last_name", "username")


class PersonChoiceField(forms.ModelChoiceField):
    """A person, by display name (with the email address where ``with_email``)."""

    def __init__(self, *args, with_email=False, **kwargs):
        self.with_email = with_email
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj):
        name = person(obj)
        if self.with_email and obj.email:
            return f"{name} <{obj.email}>"
        return name


def sales_managers():
    """The people a sale can be credited to: those in the sales manager role."""
    return users_with_role(ROLE_SALES_MANAGER).order_by(*PEOPLE_ORDER)


def clients():
    """The people an offer can be granted to: active clients (never a member of the team)."""
    return users_with_role(ROLE_CLIENT).order_by(*PEOPLE_ORDER)


def _cohort_label(cohort):
    """"Spring 2026 (Acme · Leadership)": which company and engagement a cohort is for."""
    where = [cohort.company.name] if cohort.company_id else []
    where.append(cohort.engagement.title)
    return f"{cohort.name} ({' · '.join(where)})"


class ManualGrantForm(forms.Form):
    """A grant to an existing client (``buyer``) or to a new one (``new_client_email``: an
    account is made and invited to choose its password), optionally for a company and one of
    its cohorts. ``grant_key`` is made when the form is shown, so sending it twice finds the
    first grant."""

    buyer = PersonChoiceField(
        label=gettext_lazy("Client"), queryset=get_user_model().objects.none(), required=False,
        with_email=True,
        empty_label=gettext_lazy("A new client (enter their email below)"),
        error_messages={"invalid_choice": gettext_lazy("Choose a client from the list.")},
    )
    new_client_email = forms.EmailField(
        label=gettext_lazy("New client's email"), required=False, max_length=254,
        help_text=gettext_lazy(
            "For someone without an account: one is made and they are invited by email to "
            "choose their password."
        ),
    )
    new_client_first_name = forms.CharField(
        label=gettext_lazy("New client's first name"), required=False, max_length=150
    )
    new_client_last_name = forms.CharField(
        label=gettext_lazy("New client's last name"), required=False, max_length=150
    )
    offer = forms.ModelChoiceField(
        label=gettext_lazy("Offer"), queryset=OfferPage.objects.none(),
    )
    company = forms.ModelChoiceField(
        label=gettext_lazy("Company"), required=False, queryset=Company.objects.all(),
        help_text=gettext_lazy("For a B2B grant: the enrollments count in its report."),
    )
    cohort = forms.ModelChoiceField(
        label=gettext_lazy("Cohort"), required=False,
        queryset=Cohort.objects.select_related("company", "engagement"),
        help_text=gettext_lazy("One of the company's cohorts, on an engagement of the offer."),
    )
    amount = forms.DecimalField(
        label=gettext_lazy("Amount invoiced"), max_digits=10, decimal_places=2,
        min_value=Decimal("0"), initial=Decimal("0"),
    )
    currency = forms.CharField(
        label=gettext_lazy("Currency"), max_length=3, initial="eur",
        validators=[currency_validator],
    )
    reference = forms.CharField(
        label=gettext_lazy("Invoice or PO number"), max_length=100,
    )
    sales_manager = PersonChoiceField(
        label=gettext_lazy("Sales manager"), required=False,
        queryset=get_user_model().objects.none(),
    )
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea)
    grant_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = OfferPage.objects.live().order_by("title")
        self.fields["buyer"].queryset = clients()
        self.fields["sales_manager"].queryset = sales_managers()
        self.fields["cohort"].label_from_instance = _cohort_label
        if not self.is_bound:
            self.initial["grant_key"] = uuid.uuid4()

    def sent_grant_key(self):
        """The key sent with the form, read before validation (None if missing or bad)."""
        try:
            return uuid.UUID(str(self.data.get(self.add_prefix("grant_key"), "")))
        except ValueError:
            return None

    def clean_offer(self):
        offer = self.cleaned_data["offer"]
        if any(not e.live for e in offer.engagements.all()):
            raise ValidationError(_("An engagement of this offer is not published."))
        return offer

    def clean_currency(self):
        return self.cleaned_data["currency"].lower()

    def clean_new_client_email(self):
        email = self.cleaned_data["new_client_email"].strip()
        if not email:
            return ""
        existing = account_with_email(email).first()
        if existing is not None:
            if is_staff_role(existing):
                raise ValidationError(
                    _("This email address belongs to a member of the team, not a client.")
                )
            raise ValidationError(
                _("A client with this email address already has an account: choose them "
                  "in the list.")
            )
        return email

    def clean(self):
        data = super().clean()
        buyer, email = data.get("buyer"), data.get("new_client_email")
        if buyer is None and not email and "buyer" not in self.errors and (
            "new_client_email" not in self.errors
        ):
            raise ValidationError(_("Choose a client, or enter a new client's email address."))
        if buyer is not None and email:
            self.add_error(
                "new_client_email",
                _("Either choose a client or enter a new one's email address, not both."),
            )
        offer = data.get("offer")
        if offer is not None and "company" not in self.errors and "cohort" not in self.errors:
            try:
                data["company"] = check_grant(offer, data.get("company"), data.get("cohort"))
            except PaymentError as exc:
                self.add_error("cohort", str(exc))
        return data


class SalesManagerProfileForm(WagtailAdminModelForm):
    """A referral code: its sales manager chosen among those in the role, by name; the code
    kept as entered (matched whatever its case, and unique whatever its case)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            people = sales_managers()
            if self.instance.user_id is not None:
                # A code stays editable after its holder left the role.
                people = (people | type(self.instance.user).objects.filter(
                    pk=self.instance.user_id
                )).distinct().order_by(*PEOPLE_ORDER)
            field = self.fields["user"]
            field.queryset = people
            field.label_from_instance = person

    def clean_referral_code(self):
        return self.cleaned_data["referral_code"].strip()

    class Meta:
        model = SalesManagerProfile
        fields = ["user", "referral_code", "active"]


# -- Enquiries ------------------------------------------------------------------------------


class OneTimeKeyForm(forms.Form):
    """A form sent once: its ``key`` is made when it is shown, so sending it twice (a double
    click, a reload) is recognised by the service."""

    key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["key"] = uuid.uuid4()


class EnquiryReplyForm(OneTimeKeyForm):
    body = forms.CharField(
        label=gettext_lazy("Reply"), max_length=10000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("Emailed to the enquirer, signed with your name."),
    )

    def clean_body(self):
        body = self.cleaned_data["body"].strip()
        if not body:
            raise ValidationError(_("Write your reply."))
        return body


class EnquiryStatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=EnquiryStatus.choices)


class EnquiryGrantForm(OneTimeKeyForm):
    """The manual grant of an enquiry's offer to the enquirer (``payments.enquiries``)."""

    amount = forms.DecimalField(
        label=gettext_lazy("Amount invoiced"), max_digits=10, decimal_places=2,
        min_value=Decimal("0"), initial=Decimal("0"),
    )
    currency = forms.CharField(
        label=gettext_lazy("Currency"), max_length=3, initial="eur",
        validators=[currency_validator],
    )
    reference = forms.CharField(label=gettext_lazy("Invoice or PO number"), max_length=100)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea(
        attrs={"rows": 2}
    ))

    def __init__(self, *args, enquiry=None, **kwargs):
        super().__init__(*args, **kwargs)
        price = enquiry.price if enquiry is not None else None
        if not self.is_bound and price is not None and not price.is_recurring:
            self.initial.update(amount=price.amount, currency=price.currency)

    def clean_currency(self):
        return self.cleaned_data["currency"].lower()


class CheckoutLinkForm(OneTimeKeyForm):
    """A personal checkout link for one of the offer's prices, emailed to the enquirer."""

    price = forms.ModelChoiceField(
        label=gettext_lazy("Price"), queryset=OfferPrice.objects.none(),
        error_messages={"invalid_choice": gettext_lazy("Choose a price from the list.")},
    )
    body = forms.CharField(
        label=gettext_lazy("Message"), required=False, max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Sent with the link (a short default is used if empty)."),
    )

    def __init__(self, *args, enquiry, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["price"]
        field.queryset = enquiry.offer.prices.filter(active=True).order_by("sort_order")
        field.label_from_instance = lambda price: f"{price.label} – {price.describe()}"
        if not self.is_bound and enquiry.price_id is not None:
            self.initial["price"] = enquiry.price_id
