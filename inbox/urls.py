"""URLs of the agent app. Object URLs carry only UUID ``public_id``s."""

from django.urls import path

from inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox_list, name="list"),
    path("tickets/<uuid:public_id>/", views.ticket_detail, name="ticket"),
]
