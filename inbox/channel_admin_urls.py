"""URLs of the channel admin pages (``/channels/``)."""

from django.urls import path

from inbox import channel_admin

app_name = "channel_admin"

urlpatterns = [
    path("", channel_admin.channel_list, name="list"),
    path("connect/<slug:platform>/", channel_admin.connect, name="connect"),
    path("<uuid:channel_ref>/", channel_admin.detail, name="detail"),
    path("<uuid:channel_ref>/test/", channel_admin.test_connection, name="test"),
    path("<uuid:channel_ref>/terms/", channel_admin.review_terms, name="terms"),
    path("<uuid:channel_ref>/enable/", channel_admin.enable, name="enable"),
    path("<uuid:channel_ref>/pause/", channel_admin.pause, name="pause"),
    path("<uuid:channel_ref>/credentials/", channel_admin.credentials, name="credentials"),
    path("<uuid:channel_ref>/reprocess/", channel_admin.reprocess, name="reprocess"),
    path("<uuid:channel_ref>/policy/", channel_admin.policy, name="policy"),
    path("<uuid:channel_ref>/policy/preview/", channel_admin.preview, name="preview"),
]
