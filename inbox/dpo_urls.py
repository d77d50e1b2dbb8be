"""URLs of the data-protection officer's pages (``/dpo/``)."""

from django.urls import path

from inbox import dpo

app_name = "dpo"

urlpatterns = [
    path("", dpo.home, name="home"),
    path("search/", dpo.search, name="search"),
    path("access-report/", dpo.access_report, name="access_report"),
    path("export/", dpo.export, name="export"),
    path("exports/<uuid:public_id>/", dpo.export_download, name="export_download"),
    path("erase/", dpo.erase, name="erase"),
    path("reply-deletions/", dpo.reply_deletions, name="reply_deletions"),
    path("reply-deletions/<uuid:erasure_id>/", dpo.reply_deletions, name="reply_deletions_of"),
    path("audit/verify/", dpo.verify_audit, name="verify_audit"),
    path("ropa/", dpo.ropa, name="ropa"),
    path("breach/", dpo.breach, name="breach"),
]
