"""The payments of an order, as Stripe confirms them: the rows of the buyer's receipt."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .offers import Order


class OrderPayment(models.Model):
    """One payment of an order: the one-time payment, or one invoice of a plan.

    Recorded by the payment handlers as Stripe confirms each payment (a manual grant records
    its offline payment); the buyer's order page lists them, with Stripe's invoice and
    receipt pages where Stripe has them.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    amount = models.DecimalField(_("amount"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    paid_at = models.DateTimeField(_("paid"))
    stripe_invoice_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    # Stripe's pages for the buyer: the invoice (plans) and the charge's receipt.
    invoice_url = models.URLField(_("invoice"), max_length=2000, blank=True)
    receipt_url = models.URLField(_("receipt"), max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["paid_at", "pk"]
        constraints = [
            # One row per Stripe payment, however often its events arrive.
            models.UniqueConstraint(
                fields=["stripe_payment_intent_id"],
                condition=~Q(stripe_payment_intent_id=""),
                name="coaching_one_row_per_payment_intent",
            )
        ]

    def __str__(self):
        return f"{self.order_id} {self.amount} {self.currency}"
