"""URL routing: agent app, customer portal, webhooks, admin, health."""

from django.contrib import admin
from django.urls import include, path

from inbox import health, views, webhooks

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("webhooks/<slug:platform>/<uuid:channel_ref>/", webhooks.receive, name="webhook"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("dpo/", include("inbox.dpo_urls")),
    path("channels/", include("inbox.channel_admin_urls")),
    path("", include("inbox.portal_urls")),
    path("", include("inbox.urls")),
]
