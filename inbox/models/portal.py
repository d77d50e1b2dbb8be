"""Customer portal records: sessions' grants on one ticket and e-mail contacts (SECURITY §1)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from inbox.models.fields import CiphertextField


class PortalContact(models.Model):
    """An e-mail address a magic link proved. It is not the social author: it sees only its own
    messages and the replies addressed to it (SECURITY-DESIGN.md §1, rule 4)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey(
        "inbox.Ticket", on_delete=models.CASCADE, related_name="portal_contacts"
    )
    # The address, encrypted under the ticket key; its blind index finds it again.
    email_ciphertext = CiphertextField(null=True, editable=False)
    email_digest = models.CharField(max_length=64)
    language = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # An agent decided this contact is the social author: it then reads the author's thread
    # too (services.agent.link_contact_to_author, audited).
    linked_at = models.DateTimeField(null=True, blank=True)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "email_digest"], name="portalcontact_unique_per_ticket"
            )
        ]

    def __str__(self) -> str:
        return f"Portal contact #{self.pk}"


class PortalGrant(models.Model):
    """One portal session's right to read and write one ticket, made by one secret exchange.

    The session cookie carries only this grant's id; revoking the grant ends the session.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey(
        "inbox.Ticket", on_delete=models.CASCADE, related_name="portal_grants"
    )
    contact = models.ForeignKey(
        PortalContact, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ticket", "revoked_at"], name="portalgrant_ticket_idx")]

    def __str__(self) -> str:
        return f"Portal grant #{self.pk}"


class ContactMessage(models.Model):
    """Ties a message to the e-mail contact who wrote it, or to whom a reply is addressed."""

    message = models.OneToOneField(
        "inbox.Message", on_delete=models.CASCADE, related_name="contact_link"
    )
    contact = models.ForeignKey(
        PortalContact, on_delete=models.CASCADE, related_name="message_links"
    )

    def __str__(self) -> str:
        return f"Contact message #{self.pk}"
