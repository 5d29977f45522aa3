"""What an order has paid and what it still owes: the payments Stripe confirmed (with its
invoice and receipt pages) and, for plans, the payments to come.

The handlers record each confirmed payment here (``record_payment``, ``attach_receipt``);
the buyer's order pages read ``statement``: one reading of an order's money for every page.
"""

import calendar
import dataclasses
import datetime
from decimal import Decimal

from ..models import OrderPayment, OrderStatus, PaymentModel

# Statuses in which a plan still bills (a refunded or disputed one does not, for the buyer).
BILLING_STATUSES = (OrderStatus.PAID,)


def _page_url(value):
    """A Stripe page address worth linking, or "" (only http(s), within the column)."""
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 2000:
        return value
    return ""


def record_payment(order, *, amount, currency, paid_at, invoice_id=None, payment_intent="",
                   invoice_url=""):
    """Note one confirmed payment of ``order``, once: a repeated invoice or payment intent
    (under this order or another) finds its row already there and changes nothing. One
    statement (an insert that skips a conflicting row). The caller holds the order's lock."""
    OrderPayment.objects.bulk_create(
        [
            OrderPayment(
                order=order, amount=amount, currency=currency.lower(), paid_at=paid_at,
                stripe_invoice_id=invoice_id or None, stripe_payment_intent_id=payment_intent,
                invoice_url=_page_url(invoice_url),
            )
        ],
        ignore_conflicts=True,
    )


def attach_receipt(payment_intent, receipt_url):
    """Stripe's receipt page for the payment made through ``payment_intent``, on its row.
    Returns whether such a row exists (the caller defers the event until it does)."""
    payment = (
        OrderPayment.objects.select_for_update()
        .filter(stripe_payment_intent_id=payment_intent).first()
    )
    if payment is None:
        return False
    url = _page_url(receipt_url)
    if url and payment.receipt_url != url:
        payment.receipt_url = url
        payment.save(update_fields=["receipt_url"])
    return True


def add_interval(moment, interval, count=1):
    """``moment`` moved on by ``count`` billing intervals, months as Stripe counts them
    (31 January + 1 month = the last day of February)."""
    if interval == "day":
        return moment + datetime.timedelta(days=count)
    if interval == "week":
        return moment + datetime.timedelta(weeks=count)
    months = count * (12 if interval == "year" else 1)
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclasses.dataclass(frozen=True)
class DuePayment:
    at: datetime.datetime
    amount: Decimal
    currency: str


@dataclasses.dataclass(frozen=True)
class Statement:
    """An order's money as its buyer reads it."""

    order: object
    payments: list
    paid_total: Decimal
    due: list  # DuePayment, soonest first
    installments_paid: int | None  # plans in installments only
    installments_total: int | None

    @property
    def next_due(self):
        return self.due[0] if self.due else None


def payments_due(order, now=None):
    """The payments ``order``'s plan will still take, soonest first: the installments left
    (one per billing period from the date the paid period ends), or a subscription's next
    payment. None for a one-time order or a plan that bills no more."""
    if order.payment_model not in (PaymentModel.INSTALLMENTS, PaymentModel.SUBSCRIPTION):
        return []
    if (
        order.status not in BILLING_STATUSES
        or order.subscription_ends_at is not None
        or order.plan_completed_at is not None
        or order.access_until is None
    ):
        return []
    if order.payment_model == PaymentModel.SUBSCRIPTION:
        count = 1
    else:
        count = max((order.installments_total or 0) - order.installments_paid, 0)
    return [
        DuePayment(
            at=add_interval(order.access_until, order.interval, order.interval_count * i),
            amount=order.amount, currency=order.currency,
        )
        for i in range(count)
    ]


def statement(order, payments=None, now=None):
    """``order``'s payments (``payments``: its rows if already loaded) and what is due."""
    if payments is None:
        payments = list(order.payments.all())
    installments = order.payment_model == PaymentModel.INSTALLMENTS
    return Statement(
        order=order,
        payments=payments,
        paid_total=sum((p.amount for p in payments), Decimal("0")),
        due=payments_due(order, now),
        installments_paid=order.installments_paid if installments else None,
        installments_total=order.installments_total if installments else None,
    )
