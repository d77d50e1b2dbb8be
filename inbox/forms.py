"""Forms of the agent app: validation only, no side effects."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from inbox.models import TicketStatus
from inbox.services.agent import MAX_BODY_LENGTH

STATUS_FILTER_CHOICES = [("", _("Any status")), *TicketStatus.choices]
ASSIGNED_CHOICES = [
    ("", _("Anyone")),
    ("mine", _("Assigned to me")),
    ("unassigned", _("Unassigned")),
]


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=STATUS_FILTER_CHOICES, required=False, label=_("Status"), initial="open"
    )
    channel = forms.UUIDField(required=False, label=_("Channel"))
    assigned = forms.ChoiceField(choices=ASSIGNED_CHOICES, required=False, label=_("Assigned"))
    q = forms.CharField(
        required=False,
        max_length=200,
        label=_("Search"),
        help_text=_("Exact ticket reference, handle, e-mail or phone number."),
    )
    after = forms.CharField(required=False, max_length=200)


class MessageForm(forms.Form):
    body = forms.CharField(
        max_length=MAX_BODY_LENGTH, widget=forms.Textarea(attrs={"rows": 4}), strip=True
    )
    idempotency_key = forms.CharField(required=False, max_length=64)


class AssignForm(forms.Form):
    # Empty means "unassign"; the view checks the id belongs to the ticket's team.
    assignee = forms.IntegerField(required=False, min_value=1)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=TicketStatus.choices)


class CannedReplyForm(forms.Form):
    team = forms.UUIDField()
    title = forms.CharField(max_length=80, label=_("Title"))
    body = forms.CharField(
        max_length=4000, widget=forms.Textarea(attrs={"rows": 4}), label=_("Text")
    )


class OtpVerifyForm(forms.Form):
    """Sign-in's second step: an authenticator code or one single-use backup code."""

    token = forms.RegexField(
        regex=r"^(\d{6}|[A-Za-z2-7]{8})$",
        label=_("Six-digit code or backup code"),
        error_messages={
            "invalid": _("Enter the six digits your authenticator app shows, or a backup code.")
        },
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "maxlength": "8"}),
    )

    def clean_token(self) -> str:
        return str(self.cleaned_data["token"]).strip().lower()


class OtpTokenForm(forms.Form):
    token = forms.RegexField(
        regex=r"^\d{6}$",
        label=_("Six-digit code"),
        error_messages={"invalid": _("Enter the six digits your authenticator app shows.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": "6"}
        ),
    )


class ConfirmForm(forms.Form):
    """A ticked box: the agent read the warning of an action that cannot be undone."""

    confirm = forms.BooleanField(
        required=True,
        error_messages={"required": _("Tick the box to confirm that you read the warning.")},
    )


class RetryActionForm(forms.Form):
    """The retry button of a platform action: the outcome the page showed, and for an unclear
    outcome the agent's word that they checked the platform first."""

    seen = forms.CharField(max_length=80)
    checked = forms.BooleanField(required=False)


END_ACCESS_REVOKE = "revoke"
END_ACCESS_SEND = "send"


class EndAccessForm(ConfirmForm):
    action = forms.ChoiceField(
        choices=[
            (END_ACCESS_REVOKE, _("End access")),
            (END_ACCESS_SEND, _("End access and send a new private link")),
        ]
    )
