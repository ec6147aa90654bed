"""The service branch of the error tree; connector errors live in connectors/errors.py."""

from __future__ import annotations


class LeadflowError(Exception):
    pass


class InvalidWebhook(LeadflowError):
    """The request is refused with a 4xx and nothing is published."""

    status = 400
    code = "malformed"

    def __init__(
        self, detail: str, extra: dict[str, object] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}


class Malformed(InvalidWebhook):
    status, code = 400, "malformed"


class Unauthorized(InvalidWebhook):
    status, code = 401, "unauthorized"


class Forbidden(InvalidWebhook):
    status, code = 403, "forbidden"


class NotFound(InvalidWebhook):
    status, code = 404, "not_found"


class Replayed(InvalidWebhook):
    status, code = 409, "replayed"


class RateLimited(InvalidWebhook):
    status, code = 429, "rate_limited"


class RateLimitedRetry(RateLimited):
    """Over the rate, answered 503: for a sender that retries only a 5xx (SendGrid Inbound Parse
    drops an email it gets a 4xx for, a 429 too)."""

    status = 503


class Busy(InvalidWebhook):
    """Another replica holds the same event right now: the sender must retry (5xx, not 4xx,
    so that senders that give up on a 4xx still retry)."""

    status, code = 503, "in_progress"


class TooLarge(InvalidWebhook):
    status, code = 413, "too_large"


class UnsupportedMediaType(InvalidWebhook):
    status, code = 415, "unsupported_media_type"


class NotALead(InvalidWebhook):
    status, code = 422, "not_a_lead"


class Rejected(NotALead):
    """Not a lead, answered 406: the one refusal Mailgun does not retry for 8 hours."""

    status = 406


class PoisonEvent(LeadflowError):
    """A message no retry can fix: dead-letter it with this error and move on."""
