"""Named errors of the payments services. Messages are safe to show to the person who asked."""


class PaymentError(Exception):
    pass


class PaymentsNotConfigured(PaymentError):
    """Stripe keys are not set, so paid prices cannot be sold."""


class PriceNotAvailable(PaymentError):
    """The price is inactive, its offer unpublished, or an engagement it grants unpublished."""


class AlreadyHasAccess(PaymentError):
    pass


class OrderNotPaid(PaymentError):
    pass


class RefundNotPossible(PaymentError):
    pass


class StripeUnavailable(PaymentError):
    """Stripe refused or could not be reached; nothing was changed here."""


class UnprocessableEvent(PaymentError):
    """A genuine Stripe event whose data can never be handled (a value of the wrong type, an
    impossible time, characters no database stores). It is recorded as failed and not retried."""
