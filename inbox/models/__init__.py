"""Haven's models, split by domain. Import them from here."""

from inbox.models.audit import AuditCheckpoint, AuditEvent, AuditHead
from inbox.models.canned import CannedReply
from inbox.models.envelopes import EnvelopeReason, EnvelopeStatus, InboundEnvelope
from inbox.models.gdpr import ReplyDeletion, ReplyDeletionState, SubjectExport
from inbox.models.org import Membership, Role, Team
from inbox.models.portal import ContactMessage, PortalContact, PortalGrant
from inbox.models.social import (
    Channel,
    ChannelKey,
    ChannelPolicy,
    ChannelStatus,
    InboundMessage,
    InboundStatus,
    ItemKind,
    Platform,
    PolicyMode,
    XReplyStyle,
)
from inbox.models.tickets import (
    BlindIndex,
    Message,
    MessageKind,
    MessageSource,
    OutboxAction,
    OutboxKind,
    OutboxState,
    PortalSecret,
    SecretKind,
    Ticket,
    TicketKey,
    TicketStatus,
    Tombstone,
)

__all__ = [
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "BlindIndex",
    "CannedReply",
    "Channel",
    "ChannelKey",
    "ChannelPolicy",
    "ChannelStatus",
    "ContactMessage",
    "EnvelopeReason",
    "EnvelopeStatus",
    "InboundEnvelope",
    "InboundMessage",
    "InboundStatus",
    "ItemKind",
    "Membership",
    "Message",
    "MessageKind",
    "MessageSource",
    "OutboxAction",
    "OutboxKind",
    "OutboxState",
    "Platform",
    "PolicyMode",
    "PortalContact",
    "PortalGrant",
    "PortalSecret",
    "ReplyDeletion",
    "ReplyDeletionState",
    "Role",
    "SecretKind",
    "SubjectExport",
    "Team",
    "Ticket",
    "TicketKey",
    "TicketStatus",
    "Tombstone",
    "XReplyStyle",
]
