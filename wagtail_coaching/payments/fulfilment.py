"""Fulfilment and access: what an order gives its buyer, and how that follows the money.

``fulfil(order)`` is the one way an order turns into enrollments; the webhook, the success
page, free sign-ups and manual grants all call it. Afterwards every change of the money state
(renewal, unpaid plan, refund, dispute, subscription end) goes through ``apply_access``, which
derives the access the order allows now (``access_plan``) and brings the enrollments it
granted in line, recording journey events.
"""

import dataclasses
import datetime
import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import coaching_settings
from ..journeys import AlreadyEnrolled, EngagementNotAvailable, advance, enroll
from ..journeys.clients import create_invited_client
from ..journeys.program import read_as_live
from ..journeys.progress import lock_enrollment
from ..models import (
    AccessState,
    Enquiry,
    EnquiryStatus,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Order,
    OrderEnrollment,
    OrderPayment,
    OrderSource,
    OrderStatus,
    PaymentModel,
)
from .errors import OrderNotPaid, PaymentError

logger = logging.getLogger(__name__)


def grace_period():
    return datetime.timedelta(days=coaching_settings.PAYMENT_GRACE_DAYS)


@dataclasses.dataclass(frozen=True)
class AccessPlan:
    state: str
    ends_at: datetime.datetime | None = None
    reason: str = ""


def access_plan(order, now):
    """The access ``order`` allows at ``now``: active, paused or ended, and until when.

    - Refunds and lost disputes end access; an open dispute pauses it.
    - A subscription gives access up to the period paid for plus the grace period; once a
      subscription is over, access ends at the end of its last period.
    - Other orders give the offer's access duration from fulfilment (or unlimited access); an
      installment plan that ends before its last payment ends access with it.
    - A plan unpaid for longer than the grace period is paused until it is paid.
    """
    if order.fulfilled_at is None:
        return AccessPlan(AccessState.NONE)
    if order.status == OrderStatus.REFUNDED:
        return AccessPlan(AccessState.ENDED, now, "refunded")
    if order.status == OrderStatus.DISPUTED and order.dispute_status == "lost":
        return AccessPlan(AccessState.ENDED, now, "dispute_lost")
    if order.status not in (OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.DISPUTED):
        return AccessPlan(AccessState.NONE)

    hard_end = True
    if order.payment_model == PaymentModel.SUBSCRIPTION:
        if order.subscription_ends_at:
            ends_at = order.subscription_ends_at
        else:
            # Still running: paid-through plus grace; passing it pauses, a payment resumes.
            ends_at = order.access_until + grace_period() if order.access_until else None
            hard_end = False
    else:
        ends_at = (
            order.fulfilled_at + datetime.timedelta(days=order.access_days)
            if order.access_days
            else None
        )
        if (
            order.payment_model == PaymentModel.INSTALLMENTS
            and order.subscription_ends_at
            and not order.plan_completed_at
        ):
            ends_at = min(ends_at, order.subscription_ends_at) if ends_at else (
                order.subscription_ends_at
            )

    if order.status == OrderStatus.DISPUTED:
        return AccessPlan(AccessState.PAUSED, ends_at, "dispute")
    if ends_at is not None and ends_at <= now:
        if hard_end:
            return AccessPlan(AccessState.ENDED, ends_at, "expired")
        return AccessPlan(AccessState.PAUSED, ends_at, "unpaid")
    if (
        order.past_due_since is not None
        and order.plan_completed_at is None
        and now >= order.past_due_since + grace_period()
    ):
        return AccessPlan(AccessState.PAUSED, ends_at, "past_due")
    return AccessPlan(AccessState.ACTIVE, ends_at)


def orders_for_update():
    """Orders to lock (only the order rows: the buyer may be null, an outer join)."""
    return Order.objects.select_for_update(of=("self",)).select_related("offer", "buyer")


def lock_order(order_or_pk):
    pk = getattr(order_or_pk, "pk", order_or_pk)
    return orders_for_update().get(pk=pk)


def _event(enrollment, kind, order, actor, now, **data):
    JourneyEvent.objects.create(
        enrollment=enrollment, kind=kind, actor=actor, at=now,
        data={"order": str(order.public_id), **data},
    )


def _iso(value):
    return value.isoformat() if value else None


# -- Fulfilment -----------------------------------------------------------------------------


def fulfil(order, *, actor=None, now=None):
    """Enroll the buyer of a paid order in every engagement of its offer, exactly once.

    Safe to call any number of times, concurrently too: the order row is locked and
    ``fulfilled_at`` checked. A buyer who already holds an enrollment keeps it (its access
    period is only ever lengthened). Returns the order's enrollments.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = lock_order(order)
        fulfil_locked(order, actor=actor, now=now)
        return [
            g.enrollment
            for g in order.grants.select_related("enrollment__engagement").order_by("pk")
        ]


def fulfil_locked(order, *, actor=None, now=None, save_fields=()):
    """``fulfil`` for a caller that holds the order's lock (``lock_order``) in its
    transaction and has ``order`` as it read it then: the order is not locked or read again
    (the webhook locks it once). ``order`` is updated in place; ``save_fields``, fields the
    caller changed, are saved with fulfilment's own (one update of the order)."""
    if order.fulfilled_at is None:
        _fulfil_locked(order, actor, now or timezone.now(), save_fields)
    elif save_fields:
        order.save(update_fields=[*save_fields, "updated_at"])


def _fulfil_locked(order, actor, now, save_fields=()):
    if order.status != OrderStatus.PAID:
        raise OrderNotPaid(_("This order is not paid."))
    if order.buyer_id is None:
        raise PaymentError(_("The buyer of this order no longer has an account."))
    order.fulfilled_at = now
    plan = access_plan(order, now)
    if order.cohort_id is not None:
        # A cohort grant makes the buyer one of its members (its sessions, its report).
        order.cohort.members.add(order.buyer_id)
    for engagement in order.offer.engagements.order_by("pk"):
        # Just read in this transaction: enroll takes it as published, not reading it again.
        engagement = read_as_live(engagement) or engagement
        in_cohort = order.cohort_id is not None and order.cohort.engagement_id == engagement.pk
        cohort = order.cohort if in_cohort else None
        try:
            enrollment = enroll(
                order.buyer, engagement, source=EnrollmentSource.OFFER, actor=actor,
                ends_at=plan.ends_at, now=now, company=order.company, cohort=cohort,
            )
            granted = True
        except AlreadyEnrolled as exc:
            enrollment = exc.enrollment or Enrollment.objects.get(
                client_id=order.buyer_id, engagement=engagement,
                status__in=(EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED),
            )
            granted = False
            _lengthen(enrollment, plan.ends_at, order, actor, now)
        except EngagementNotAvailable:
            # Checkout refuses offers with unpublished engagements; one unpublished since
            # must not hold the rest of the bundle back.
            logger.error(
                "Order %s: engagement %s is not published; buyer not enrolled in it.",
                order.public_id, engagement.pk,
            )
            continue
        OrderEnrollment.objects.create(order=order, enrollment=enrollment, granted=granted)
        _event(
            enrollment, EventKind.PAID, order, actor, now,
            amount=str(order.amount), currency=order.currency, offer=order.offer_id,
        )
    order.access_state = plan.state
    order.access_ends_at = plan.ends_at
    order.save(update_fields=[
        *dict.fromkeys([*save_fields, "fulfilled_at", "access_state", "access_ends_at",
                        "updated_at"]),
    ])
    win_enquiries(order, now)


def win_enquiries(order, now):
    """The enquiries that led to ``order`` (its personal checkout link) are won."""
    Enquiry.objects.filter(order=order).exclude(status=EnquiryStatus.WON).update(
        status=EnquiryStatus.WON, won_at=now, updated_at=now
    )


def _lengthen(enrollment, ends_at, order, actor, now):
    enrollment = lock_enrollment(enrollment.pk)
    current = enrollment.ends_at
    if current is None or (ends_at is not None and ends_at <= current):
        return
    enrollment.ends_at = ends_at
    enrollment.save(update_fields=["ends_at"])
    _event(enrollment, EventKind.ACCESS_CHANGED, order, actor, now, ends_at=_iso(ends_at))


# -- Access changes -------------------------------------------------------------------------


def apply_access(order, *, now=None, actor=None):
    """Bring the enrollments ``order`` granted in line with ``access_plan``.

    The caller holds the order's lock (``lock_order``). Only enrollments the order itself
    created are changed, and only a pause this order made is lifted by it.
    """
    now = now or timezone.now()
    plan = access_plan(order, now)
    if plan.state == AccessState.NONE:
        return plan
    for grant in order.grants.filter(granted=True).order_by("enrollment_id"):
        enrollment = lock_enrollment(grant.enrollment_id)
        _apply_to_enrollment(order, grant, enrollment, plan, actor, now)
    if (order.access_state, order.access_ends_at) != (plan.state, plan.ends_at):
        order.access_state = plan.state
        order.access_ends_at = plan.ends_at
        order.save(update_fields=["access_state", "access_ends_at", "updated_at"])
    return plan


def _apply_to_enrollment(order, grant, enrollment, plan, actor, now):
    if not enrollment.is_open:
        return  # completed or cancelled: history, never reopened by a payment
    if plan.state == AccessState.ENDED:
        enrollment.status = EnrollmentStatus.CANCELLED
        enrollment.ends_at = plan.ends_at if plan.ends_at and plan.ends_at <= now else now
        enrollment.save(update_fields=["status", "ends_at"])
        _event(enrollment, EventKind.ACCESS_ENDED, order, actor, now, reason=plan.reason)
        return
    fields = []
    if plan.state == AccessState.PAUSED and enrollment.status == EnrollmentStatus.ACTIVE:
        enrollment.status = EnrollmentStatus.PAUSED
        fields.append("status")
        grant.paused_by_order = True
        grant.save(update_fields=["paused_by_order"])
        _event(enrollment, EventKind.ACCESS_PAUSED, order, actor, now, reason=plan.reason)
    resumed = False
    if (
        plan.state == AccessState.ACTIVE
        and enrollment.status == EnrollmentStatus.PAUSED
        and grant.paused_by_order
    ):
        enrollment.status = EnrollmentStatus.ACTIVE
        fields.append("status")
        grant.paused_by_order = False
        grant.save(update_fields=["paused_by_order"])
        _event(enrollment, EventKind.ACCESS_RESUMED, order, actor, now)
        resumed = True
    if enrollment.ends_at != plan.ends_at:
        enrollment.ends_at = plan.ends_at
        fields.append("ends_at")
        _event(
            enrollment, EventKind.ACCESS_CHANGED, order, actor, now, ends_at=_iso(plan.ends_at)
        )
    if fields:
        enrollment.save(update_fields=fields)
    if resumed:
        # Steps that came due while paused open now.
        advance(enrollment, actor=actor, now=now)


def record_on_grants(order, kind, *, actor=None, now=None, **data):
    """A journey event on every open enrollment the order granted (refund, dispute)."""
    now = now or timezone.now()
    for grant in order.grants.filter(granted=True).select_related("enrollment"):
        if grant.enrollment.is_open:
            _event(grant.enrollment, kind, order, actor, now, **data)


def sweep_access(now=None):
    """Pause plans unpaid beyond the grace period and end access whose time is up.

    Run periodically; safe to run twice (each order is re-checked under its lock). Only
    orders whose access would change are picked. Returns how many changed.
    """
    now = now or timezone.now()
    ended = Q(access_ends_at__lte=now)
    running_subscription = Q(
        payment_model=PaymentModel.SUBSCRIPTION, subscription_ends_at__isnull=True
    )
    due = Order.objects.filter(fulfilled_at__isnull=False).filter(
        Q(access_state=AccessState.ACTIVE)
        & (Q(past_due_since__lte=now - grace_period(), plan_completed_at__isnull=True) | ended)
        # A paused order ends once its (hard) end passes; open disputes wait for Stripe.
        | (Q(access_state=AccessState.PAUSED) & ended & ~running_subscription
           & ~Q(status=OrderStatus.DISPUTED))
    )
    changed = 0
    for pk in list(due.order_by("pk").values_list("pk", flat=True)):
        with transaction.atomic():
            order = lock_order(pk)
            before = order.access_state
            plan = apply_access(order, now=now)
            changed += plan.state != before
    return changed


# -- Orders that need no Stripe -------------------------------------------------------------


def order_snapshot(price):
    """The price fields an order copies, so later edits of the price never change it."""
    return {
        "price": price,
        "price_label": price.label,
        "payment_model": price.payment_model,
        "amount": price.amount,
        "currency": price.currency.lower(),
        "interval": price.interval,
        "interval_count": price.interval_count,
        "installments_total": price.installments,
        "trial_days": price.trial_days,
        "access_days": price.offer.access_days,
    }


def claim_free(buyer, price, *, sales_manager=None, now=None):
    """Take a free price: a paid order of zero and immediate enrollment."""
    now = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.create(
            buyer=buyer, offer=price.offer, status=OrderStatus.PAID, source=OrderSource.FREE,
            sales_manager=sales_manager, paid_at=now, created_at=now, **order_snapshot(price),
        )
        fulfil(order, actor=buyer, now=now)
    return order


class GrantNotPossible(PaymentError):
    """A manual grant whose company, cohort or offer do not go together."""


def check_grant(offer, company=None, cohort=None):
    """The company a grant records (a cohort's own when none is given), or GrantNotPossible:
    a cohort belongs to the grant's company and is on one of the offer's engagements."""
    if cohort is not None:
        if cohort.company_id is not None and company is not None and (
            cohort.company_id != company.pk
        ):
            raise GrantNotPossible(_("This cohort belongs to another company."))
        if cohort.company_id is None and company is not None:
            raise GrantNotPossible(_("This cohort belongs to no company."))
        if not offer.engagements.filter(pk=cohort.engagement_id).exists():
            raise GrantNotPossible(
                _("This cohort is for an engagement this offer does not grant.")
            )
        company = company or cohort.company
    return company


def grant_offer(buyer, offer, *, actor, amount, currency, reference, note="",
                sales_manager=None, company=None, cohort=None, grant_key=None, now=None):
    """Record an offline (e.g. B2B invoice) payment and enroll the buyer.

    The order is marked paid at once with the amount invoiced; it carries the offer's
    access duration. A B2B grant names the ``company`` (and ``cohort``) its enrollments
    belong to, so they count in that company's report. ``grant_key`` (the grant form's
    one-time key) makes a repeated submission return the first order instead of a second.
    """
    now = now or timezone.now()
    company = check_grant(offer, company, cohort)
    if grant_key is not None:
        existing = Order.objects.filter(grant_key=grant_key).first()
        if existing is not None:
            fulfil(existing, actor=actor, now=now)
            return existing
    try:
        with transaction.atomic():
            order = Order.objects.create(
                buyer=buyer, offer=offer, status=OrderStatus.PAID, source=OrderSource.MANUAL,
                price_label=_("Manual grant"), payment_model=PaymentModel.ONE_TIME,
                amount=amount, currency=currency.lower(), access_days=offer.access_days,
                reference=reference, note=note, sales_manager=sales_manager, created_by=actor,
                company=company, cohort=cohort, grant_key=grant_key, paid_at=now, created_at=now,
            )
            if Decimal(str(amount)) > 0:
                # The offline payment, on the buyer's order page like any other.
                OrderPayment.objects.create(
                    order=order, amount=amount, currency=currency.lower(), paid_at=now
                )
            fulfil(order, actor=actor, now=now)
    except IntegrityError:
        # The same form submitted twice at once: the other submission's order stands.
        existing = Order.objects.filter(grant_key=grant_key).first() if grant_key else None
        if existing is None:
            raise
        return existing
    return order


def grant_offer_to_new_client(email, offer, *, actor, first_name="", last_name="", **grant):
    """``grant_offer`` to someone without an account: the account is made and invited to
    choose its password (``journeys.clients``), all or nothing. Raises AccountExists if the
    email address already has an account."""
    with transaction.atomic():
        buyer = create_invited_client(
            email, first_name=first_name, last_name=last_name, invited_by=actor
        )
        return grant_offer(buyer, offer, actor=actor, **grant)


def granted_with_key(grant_key):
    """The order a grant form's key already made, or None."""
    if grant_key is None:
        return None
    return Order.objects.select_related("buyer", "offer").filter(grant_key=grant_key).first()
