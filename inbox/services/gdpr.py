"""GDPR operations, one import away: retention, subject search, export, erasure, records.

The work lives in ``retention``, ``subjects``, ``exports``, ``erasure`` and ``records``; tasks,
management commands and the data-protection officer's pages use them through this module.
"""

from inbox.services.erasure import ErasureReport, Reason, erase_subject, erase_ticket
from inbox.services.exports import (
    EXPORT_TTL,
    IssuedExport,
    download_export,
    export_language,
    export_subject,
    open_archive,
)
from inbox.services.records import (
    AffectedTicket,
    BreachImpact,
    affected_subjects,
    build_ropa,
    channel_processing,
)
from inbox.services.retention import (
    PurgeReport,
    RetentionChange,
    change_retention,
    effective_retention_days,
    purge_expired,
)
from inbox.services.subjects import (
    AccessRow,
    Subject,
    SubjectMatch,
    access_report,
    find_subject,
    index_findings,
    subject_messages,
)

__all__ = [
    "EXPORT_TTL",
    "AccessRow",
    "AffectedTicket",
    "BreachImpact",
    "ErasureReport",
    "IssuedExport",
    "PurgeReport",
    "Reason",
    "RetentionChange",
    "Subject",
    "SubjectMatch",
    "access_report",
    "affected_subjects",
    "build_ropa",
    "change_retention",
    "channel_processing",
    "download_export",
    "effective_retention_days",
    "erase_subject",
    "erase_ticket",
    "export_language",
    "export_subject",
    "find_subject",
    "index_findings",
    "open_archive",
    "purge_expired",
    "subject_messages",
]
