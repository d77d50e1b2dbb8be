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


class XSignInFailed(HavenError):
    """Sign in with X gave no access: another account, a stale or forged callback, a refusal.

    Every cause gets the same page, so the page tells nothing about which one it was.
    """

    code = "x_sign_in_failed"
    message = _(
        "We could not confirm that you wrote the post. Sign in with the X account that wrote it."
    )
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


class InvalidAssignee(HavenError):
    code = "invalid_assignee"
    message = _("Only a member of this conversation's team can be assigned.")
    status = 400


class InvalidStatus(HavenError):
    code = "invalid_status"
    message = _("That status does not exist.")
    status = 400


class EmptyMessage(HavenError):
    code = "empty_message"
    message = _("Write something before sending.")
    status = 400


class DuplicateCannedReply(HavenError):
    code = "duplicate_canned_reply"
    message = _("Your team already has a canned reply with this title. Pick another title.")
    status = 409


class InvalidToken(HavenError):
    code = "invalid_token"
    message = _("That code did not match. Check your device's clock and try the newest code.")
    status = 400


class PortalRateLimited(HavenError):
    code = "rate_limited"
    message = _("Too many attempts. Please wait a few minutes and try again.")
    status = 429


class EmptyCustomerMessage(HavenError):
    code = "empty_message"
    message = _("Write a message before sending.")
    status = 400


class InvalidEmail(HavenError):
    code = "invalid_email"
    message = _("Enter a valid e-mail address, or leave the field empty.")
    status = 400


class StepUpRequired(HavenError):
    """A destructive change needs the admin's password from the last five minutes."""

    code = "step_up_required"
    message = _(
        "Enter your password again: this change needs a sign-in from the last five minutes."
    )
    status = 403


class ContactNotVerified(HavenError):
    code = "contact_not_verified"
    message = _(
        "This e-mail address has not been confirmed yet. Wait until the contact opens the link "
        "we sent them."
    )
    status = 409


class ActionNotRetryable(HavenError):
    code = "action_not_retryable"
    message = _(
        "This platform action changed since the page was loaded, or it can no longer be "
        "retried. Open the conversation again to see where it stands."
    )
    status = 409


class RetryNotConfirmed(HavenError):
    code = "retry_not_confirmed"
    message = _(
        "Haven does not know whether this reached the platform. Check the post on the "
        "platform first, then tick the box to retry."
    )
    status = 400


class ChannelNotActive(HavenError):
    code = "channel_not_active"
    message = _(
        "The channel is not switched on, so Haven cannot act on the platform. Ask an admin to "
        "switch it on, then retry."
    )
    status = 409


class PortalAccessEnded(HavenError):
    code = "portal_access_ended"
    message = _(
        "The customer's access was ended, so this private link is not sent again. To send a "
        "new one, use “End access or send a new private link”."
    )
    status = 409


class PrivateLinkUnavailable(HavenError):
    code = "private_link_unavailable"
    message = _(
        "Haven cannot send a new private link through the platform for this conversation. "
        "Nothing was changed: end the access without a new link, or reach the customer in "
        "another way."
    )
    status = 409
