"""Asking about an offer ("Ask about this"), and buying through a sales manager's personal
checkout link.

Thin views: ``payments.enquiries`` records, routes and closes enquiries. A filled-in honeypot
field is answered as if the question were sent, and nothing is stored; an address or email
over its limit is asked to wait (429).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from ..models import OfferPage, OfferPrice
from ..models.offers import REFERRAL_SESSION_KEY, remember_referral
from ..payments.enquiries import (
    EnquiryRefused,
    TooManyEnquiries,
    count_enquiry,
    enquiry_for_token,
    start_enquiry_checkout,
    submit_enquiry,
)
from ..payments.errors import AlreadyHasAccess, PaymentError
from ..payments.stripe_client import stripe_enabled
from ..permissions import has_offer_access
from ..utils.urls import signup_url, with_next
from .checkout import _login_url

HONEYPOT = "website"


class PriceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, price):
        description = price.describe()
        return price.label if description == price.label else f"{price.label} – {description}"


class EnquiryForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Your name"), max_length=150)
    email = forms.EmailField(label=gettext_lazy("Your email"), max_length=254)
    price = PriceChoiceField(
        label=gettext_lazy("Which price are you asking about?"), required=False,
        queryset=OfferPrice.objects.none(), empty_label=gettext_lazy("The offer in general"),
        error_messages={"invalid_choice": gettext_lazy("Choose a price from the list.")},
    )
    message = forms.CharField(
        label=gettext_lazy("Your question"), max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("Your goals, your team, your timing: we answer by email."),
    )
    # Left empty by people (it is hidden from them); filled in by form-filling robots.
    website = forms.CharField(
        label=gettext_lazy("Leave this field empty"), required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, offer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["price"].queryset = offer.prices.filter(active=True).order_by("sort_order")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Tell us your name."))
        return name

    def clean_message(self):
        message = self.cleaned_data["message"].strip()
        if not message:
            raise forms.ValidationError(_("Write your question."))
        return message


def _offer_or_404(offer_id):
    offer = OfferPage.objects.live().filter(pk=offer_id).first()
    if offer is None:
        raise Http404(_("No such offer."))
    return offer


def client_address(request):
    """The client's address (``REMOTE_ADDR``: a site behind a proxy sets it from the proxy's
    header, as the accounts pages' limits need too)."""
    return request.META.get("REMOTE_ADDR", "")


class EnquiryView(View):
    """GET: the question form (``?price=<id>``, one of the offer's prices on sale, picks the
    price asked about). POST: send it."""

    template_name = "wagtail_coaching/offers/enquiry.html"

    def render(self, request, offer, form, status=200, **extra):
        return TemplateResponse(request, self.template_name, {
            "offer": offer, "form": form, "honeypot": HONEYPOT, **extra,
        }, status=status)

    def get(self, request, offer_id):
        offer = _offer_or_404(offer_id)
        remember_referral(request)
        initial = {}
        raw_price = request.GET.get("price")
        if raw_price:
            price = (
                offer.prices.filter(active=True, pk=raw_price).first()
                if raw_price.isdecimal() else None
            )
            if price is None:
                raise Http404(_("This price is not on sale."))
            initial["price"] = price.pk
        user = request.user
        if user.is_authenticated:
            initial["name"] = user.get_full_name()
            initial["email"] = user.email
        return self.render(request, offer, EnquiryForm(initial=initial, offer=offer))

    def post(self, request, offer_id):
        offer = _offer_or_404(offer_id)
        if request.POST.get(HONEYPOT):
            # A robot: thanked like a person, nothing kept (its address is counted).
            count_enquiry("", client_address(request))
            return self.render(request, offer, None, sent=True)
        form = EnquiryForm(request.POST, offer=offer)
        if not form.is_valid():
            return self.render(request, offer, form, status=400)
        data = form.cleaned_data
        try:
            submit_enquiry(
                offer, name=data["name"], email=data["email"], message=data["message"],
                price=data["price"], referral_code=request.session.get(REFERRAL_SESSION_KEY, ""),
                address=client_address(request),
            )
        except TooManyEnquiries as exc:
            form.add_error(None, str(exc))
            return self.render(request, offer, form, status=429)
        except EnquiryRefused as exc:
            form.add_error(None, str(exc))
            return self.render(request, offer, form, status=400)
        return self.render(request, offer, None, sent=True, name=data["name"])


class EnquiryCheckoutView(View):
    """A sales manager's personal checkout link: the confirmation page of one price, bought
    credited to them and linked to the enquiry. An unknown link (or a price no longer on
    sale) does not exist."""

    template_name = "wagtail_coaching/offers/checkout_confirm.html"

    def _enquiry(self, token):
        enquiry = enquiry_for_token(token)
        if enquiry is None:
            raise Http404(_("This link is not valid (any more)."))
        return enquiry

    def get(self, request, token):
        enquiry = self._enquiry(token)
        price = enquiry.price
        here = request.get_full_path()
        return TemplateResponse(request, self.template_name, {
            "price": price,
            "offer": enquiry.offer,
            "description": price.describe(),
            "engagements": enquiry.offer.live_engagements(),
            "available": price.is_free or stripe_enabled(),
            "has_access": has_offer_access(request.user, enquiry.offer),
            "login_url": _login_url(here),
            "signup_url": with_next(signup_url(), here),
            "enquiry": enquiry,
        })

    def post(self, request, token):
        enquiry = self._enquiry(token)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        offer_url = request.build_absolute_uri(enquiry.offer.get_url(request) or "/")
        try:
            started = start_enquiry_checkout(
                request.user, enquiry,
                success_url=lambda order: request.build_absolute_uri(
                    reverse("wagtail_coaching:checkout_done", args=[order.public_id])
                ),
                cancel_url=offer_url,
            )
        except AlreadyHasAccess as exc:
            messages.info(request, str(exc))
            return HttpResponseRedirect(enquiry.offer.url or "/", status=303)
        except PaymentError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(enquiry.offer.url or "/", status=303)
        if started.payment_url:
            return HttpResponseRedirect(started.payment_url, status=303)
        return HttpResponseRedirect(
            reverse("wagtail_coaching:checkout_done", args=[started.order.public_id]), status=303
        )
