"""Haven's domain errors: a stable code and a user-safe message (Zulip's JsonableError idea)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class HavenError(Exception):
    code = "haven_error"
    message = _("Something went wrong. Please try again.")
    status = 400

    def __init__(self, detail: str = "") -> None:
        # ``detail`` is for developers and logs: ids and conditions, never personal data.
        super().__init__(detail or self.code)
        self.detail = detail


class TicketNotFound(HavenError):
    code = "ticket_not_found"
    message = _("This conversation does not exist or you do not have access to it.")
    status = 404


class TicketClosed(HavenError):
    code = "ticket_closed"
    message = _("This conversation is closed. Reopen it to write again.")
    status = 409


class PolicyViolation(HavenError):
    code = "policy_violation"
    message = _("This is not allowed by the channel's policy.")
    status = 403


class LinkExpired(HavenError):
    code = "link_expired"
    message = _("This link has expired or was already used. Ask us for a new one.")
    status = 404


class TermsNotReviewed(HavenError):
    code = "terms_not_reviewed"
    message = _(
        "Record the review of the platform's privacy terms before switching this channel on."
    )
    status = 409


class LegalHold(HavenError):
    code = "legal_hold"
    message = _("This conversation is under legal hold and cannot be erased or purged.")
    status = 409
