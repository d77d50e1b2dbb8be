"""Every write and side effect of the inbox, split by sub-domain. Import from here.

- ``channels``: connecting social accounts, credentials, terms review, switching on and off.
- ``agent``: what agents do to a ticket (reply, note, assign, status, read; the customer's
  links and e-mail contacts); canned replies.
- ``retry``: an agent's retry of a platform action that ended failed or unknown.
- ``threads``: opening tickets and adding encrypted messages (used by every other area).
- ``secrets``: portal secrets (issued, hashed, revoked); ``portal``: the customer's side.
- ``pipeline``: ingest, process, perform outbox actions, poll, sweep (DESIGN's flow), built
  from ``connectors``, ``ingest``, ``processing``, ``outbox`` and ``polling``.
- ``gdpr``: retention, subjects, export, erasure, records (``retention``, ``subjects``,
  ``exports``, ``erasure``, ``records``).
"""

from inbox.services.agent import (
    add_note,
    assign_ticket,
    confirm_totp_enrolment,
    create_canned_reply,
    delete_canned_reply,
    end_portal_access,
    fill_canned_reply,
    link_contact_to_author,
    mark_read,
    private_link_route,
    reply_to_contact,
    rotate_drop_ref,
    send_reply,
    set_status,
    start_totp_enrolment,
    unlink_contact_from_author,
)
from inbox.services.channels import (
    create_channel,
    enable_channel,
    pause_channel,
    record_terms_review,
    set_channel_credentials,
)
from inbox.services.retry import action_rows, retry_action

__all__ = [
    "action_rows",
    "add_note",
    "assign_ticket",
    "confirm_totp_enrolment",
    "create_canned_reply",
    "create_channel",
    "delete_canned_reply",
    "enable_channel",
    "end_portal_access",
    "fill_canned_reply",
    "link_contact_to_author",
    "mark_read",
    "pause_channel",
    "private_link_route",
    "record_terms_review",
    "reply_to_contact",
    "retry_action",
    "rotate_drop_ref",
    "send_reply",
    "set_channel_credentials",
    "set_status",
    "start_totp_enrolment",
    "unlink_contact_from_author",
]
