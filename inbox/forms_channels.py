"""Forms of the channel admin pages: connect, credentials, terms review, policy and preview.

Credential fields are write-only: password inputs that never render a value back.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from inbox import policies
from inbox.models import ChannelPolicy, Platform, PolicyMode, Team, XReplyStyle
from inbox.services.channels import PolicyChanges, target_retention_days
from redaction import Entity

LANGUAGE_NAMES = {
    "en": _("English"),
    "de": _("German"),
    "fr": _("French"),
    "es": _("Spanish"),
    "it": _("Italian"),
    "nl": _("Dutch"),
}
LABEL_NAMES = {
    Entity.EMAIL: _("E-mail address"),
    Entity.PHONE: _("Phone number"),
    Entity.PAYMENT_CARD: _("Payment card"),
    Entity.IBAN: _("IBAN"),
    Entity.IP_ADDRESS: _("IP address"),
    Entity.PERSON: _("Person's name"),
    Entity.STREET_ADDRESS: _("Street address"),
    Entity.POSTCODE: _("Postcode"),
    Entity.NATIONAL_ID: _("National ID"),
    Entity.DATE_OF_BIRTH: _("Date of birth"),
    Entity.ACCOUNT_NUMBER: _("Account number"),
}
LABEL_CHOICES = [(e.value, LABEL_NAMES[e]) for e in Entity]
SAMPLE_KINDS = {
    Platform.X: [("mention", _("Mention")), ("reply", _("Reply")), ("dm", _("Direct message"))],
    Platform.FACEBOOK: [("comment", _("Comment")), ("dm", _("Message"))],
}


def _secret(
    label: StrOrPromise, *, required: bool = True, help_text: StrOrPromise = ""
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
    )


class CredentialsForm(forms.Form):
    """The platform's credentials. Nothing typed here is ever shown again."""

    def __init__(self, *args: Any, platform: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.platform = platform
        if platform == Platform.FACEBOOK:
            self.fields["page_access_token"] = _secret(_("Page access token"))
            self.fields["app_id"] = forms.CharField(
                label=_("App id"), required=False, max_length=64
            )
            self.fields["app_secret"] = _secret(
                _("App secret"),
                required=False,
                help_text=_("Needed for webhooks (signature checks) and appsecret_proof."),
            )
        else:
            self.fields["username"] = forms.CharField(
                label=_("Handle (without @)"), required=False, max_length=15
            )
            self.fields["consumer_key"] = _secret(_("API key (consumer key)"), required=False)
            self.fields["consumer_secret"] = _secret(
                _("API key secret (consumer secret)"),
                required=False,
                help_text=_("Needed for webhooks (signature and CRC checks)."),
            )
            self.fields["access_token"] = _secret(
                _("Access token"),
                help_text=_("OAuth 1.0a access token, or an OAuth 2.0 user token on its own."),
            )
            self.fields["access_token_secret"] = _secret(_("Access token secret"), required=False)
            # "Sign in with X" on the customer portal (docs/portal.md): the app's OAuth 2.0 client.
            self.fields["oauth2_client_id"] = forms.CharField(
                label=_("OAuth 2.0 client id (for “Sign in with X”, optional)"),
                required=False,
                max_length=200,
                help_text=_(
                    "Lets customers read their conversation by signing in with the X account "
                    "that wrote to you. Add %(url)s as a callback URL of the X app."
                )
                % {"url": f"{settings.HAVEN_BASE_URL}{reverse('portal:x_callback')}"},
            )
            self.fields["oauth2_client_secret"] = _secret(
                _("OAuth 2.0 client secret"),
                required=False,
                help_text=_("Only for a confidential client; leave empty for a public one."),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.platform == Platform.X and data.get("consumer_key"):
            for name in ("consumer_secret", "access_token_secret"):
                if not data.get(name):
                    self.add_error(name, _("OAuth 1.0a needs this as well as the API key."))
        secret_only = data.get("oauth2_client_secret") and not data.get("oauth2_client_id")
        if self.platform == Platform.X and secret_only:
            self.add_error("oauth2_client_id", _("The client secret needs its client id."))
        return data

    def credentials(self, *, account_id: str) -> dict[str, str]:
        """The dict the connector expects (docs/bridge.md), blanks left out."""
        key = "page_id" if self.platform == Platform.FACEBOOK else "user_id"
        values = {k: str(v) for k, v in self.cleaned_data.items() if v and k in self.fields}
        return {key: account_id, **values}


class ConnectForm(CredentialsForm):
    """Connect a Facebook page or an X account (it starts switched off)."""

    def __init__(
        self,
        *args: Any,
        platform: str,
        teams: list[Team],
        allow_api_base_url: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, platform=platform, **kwargs)
        account_label = _("Page id") if platform == Platform.FACEBOOK else _("Account id (numeric)")
        base: dict[str, forms.Field] = {
            "team": forms.ModelChoiceField(
                label=_("Team"),
                queryset=Team.objects.filter(pk__in=[t.pk for t in teams]),
                initial=teams[0] if len(teams) == 1 else None,
                empty_label=None if len(teams) == 1 else "---------",
            ),
            "name": forms.CharField(label=_("Name shown to agents"), max_length=100),
            "external_account_id": forms.RegexField(
                label=account_label,
                regex=r"^[0-9]{1,64}$",
                error_messages={"invalid": _("Enter the numeric id the platform shows.")},
            ),
        }
        if allow_api_base_url:
            base["api_base_url"] = forms.URLField(
                label=_("API base URL (development only)"),
                required=False,
                help_text=_("Leave empty for the real platform; the simulator's URL for a demo."),
            )
        self.fields = {**base, **self.fields}


class TermsReviewForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I have read the platform's current privacy and data terms for this account."),
    )
    notes = forms.CharField(
        label=_("Notes (version or date of the terms, what you checked)"),
        max_length=4000,
        min_length=10,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class PolicyForm(forms.Form):
    """The policy editor, with the preview's sample message (used by "Preview" only)."""

    mode = forms.ChoiceField(label=_("When to redirect"), choices=PolicyMode.choices)
    trigger_labels = forms.MultipleChoiceField(
        label=_("Personal data that triggers a redirect (none ticked: all)"),
        choices=LABEL_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    min_score = forms.FloatField(
        label=_("Minimum confidence (0 to 1)"),
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        widget=forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "1"}),
    )
    hide_original = forms.BooleanField(
        label=_("Hide the customer's public message where the platform allows it"),
        required=False,
    )
    send_private_link = forms.BooleanField(
        label=_("Send the private link to the author where the platform allows it"),
        required=False,
    )
    retention_days = forms.IntegerField(
        label=_("Keep conversations for (days)"), min_value=1, max_value=3650
    )
    poll_interval_seconds = forms.IntegerField(
        label=_("Check for new messages every (seconds)"), min_value=15, max_value=86_400
    )
    password = forms.CharField(
        label=_("Your password (only for redirect off or a shorter retention)"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "current-password"}),
    )
    sample = forms.CharField(
        label=_("Sample message"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Pasted text is scanned for this page only: it is not stored or logged."),
    )

    def __init__(self, *args: Any, platform: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.platform = platform
        self.styles: list[str] = [policies.STYLE_LINK]
        if platform == Platform.X:
            self.fields["x_reply_style"] = forms.ChoiceField(
                label=_("Public reply on X"), choices=XReplyStyle.choices
            )
            self.styles.append(policies.STYLE_ASK_DM)
        for style in self.styles:
            for language in policies.LANGUAGES:
                default = policies.template_for({}, style, language)
                self.fields[f"template_{style}_{language}"] = forms.CharField(
                    label=LANGUAGE_NAMES[language],
                    required=False,
                    max_length=240,
                    widget=forms.TextInput(attrs={"placeholder": default}),
                )
        self.fields["sample_kind"] = forms.ChoiceField(
            label=_("Arrives as"), choices=SAMPLE_KINDS[Platform(platform)]
        )

    @classmethod
    def initial_for(cls, policy: ChannelPolicy, *, poll_interval_seconds: int) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "mode": policy.mode,
            "trigger_labels": list(policy.trigger_labels or ()),
            "min_score": policy.min_score,
            "hide_original": policy.hide_original,
            "send_private_link": policy.send_private_link,
            "x_reply_style": policy.x_reply_style,
            "retention_days": target_retention_days(policy),
            "poll_interval_seconds": poll_interval_seconds,
        }
        for key, template in (policy.reply_templates or {}).items():
            style, _sep, language = key.rpartition(":")
            initial[f"template_{style or policies.STYLE_LINK}_{language}"] = template
        return initial

    def template_groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        titles = {
            policies.STYLE_LINK: _("Reply with the secure link ({link} and {ref})"),
            policies.STYLE_ASK_DM: _("Reply asking for a DM on X ({ref}, no link)"),
        }
        return [
            (
                str(titles[style]),
                [self[f"template_{style}_{language}"] for language in policies.LANGUAGES],
            )
            for style in self.styles
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for style in self.styles:
            for language in policies.LANGUAGES:
                name = f"template_{style}_{language}"
                template = data.get(name) or ""
                for problem in policies.validate_template(template, style) if template else ():
                    self.add_error(name, problem)
        return data

    def templates(self) -> dict[str, str]:
        return {
            f"{style}:{language}": self.cleaned_data[f"template_{style}_{language}"]
            for style in self.styles
            for language in policies.LANGUAGES
            if self.cleaned_data.get(f"template_{style}_{language}")
        }

    def changes(self, *, current_x_reply_style: str) -> PolicyChanges:
        d = self.cleaned_data
        return PolicyChanges(
            mode=d["mode"],
            trigger_labels=tuple(d["trigger_labels"]),
            min_score=d["min_score"],
            hide_original=d["hide_original"],
            send_private_link=d["send_private_link"],
            reply_templates=self.templates(),
            x_reply_style=d.get("x_reply_style") or current_x_reply_style,
            retention_days=d["retention_days"],
            poll_interval_seconds=d["poll_interval_seconds"],
        )

    def policy_view(self, *, current_x_reply_style: str) -> policies.PolicyView:
        d = self.cleaned_data
        return policies.PolicyView(
            mode=d["mode"],
            trigger_labels=frozenset(d["trigger_labels"]),
            min_score=d["min_score"],
            hide_original=d["hide_original"],
            send_private_link=d["send_private_link"],
            x_reply_style=d.get("x_reply_style") or current_x_reply_style,
        )
