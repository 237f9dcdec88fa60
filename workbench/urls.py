from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import JavaScriptCatalog

from workbench import views

app_name = "workbench"

# The two streams (api/events and api/sessions/<name>/events) are served by
# workbench.streams, routed in fiido.asgi ahead of Django's middleware.
urlpatterns = [
    path("", views.queue_page, name="queue"),
    # The page scripts' translations, in the agent's language (fiido/i18n.py).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="jsi18n"),
    path("language", views.set_language, name="language"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sessions/<str:name>", views.session_page, name="session"),
    path("canned-replies", views.canned_replies_page, name="canned-replies"),
    path("history", views.history_page, name="history"),
    path("reports", views.reports_page, name="reports"),
    path("api/reports", views.report_data, name="api-reports"),
    path("api/sessions", views.session_list, name="api-sessions"),
    path("api/sessions/<str:name>", views.session_detail, name="api-session"),
    path("api/sessions/<str:name>/takeover", views.take_over, name="api-takeover"),
    path("api/sessions/<str:name>/release", views.release, name="api-release"),
    path("api/sessions/<str:name>/close", views.close, name="api-close"),
    path("api/sessions/<str:name>/messages", views.messages, name="api-messages"),
    path("api/sessions/<str:name>/transfer", views.transfer, name="api-transfer"),
    path("api/sessions/<str:name>/return-to-queue", views.return_to_queue, name="api-return-to-queue"),
    path("api/sessions/<str:name>/notes", views.add_note, name="api-notes"),
    path("api/sessions/<str:name>/read", views.mark_read, name="api-read"),
    path("api/sessions/<str:name>/typing", views.typing, name="api-typing"),
    path("api/sessions/<str:name>/summary", views.summary, name="api-summary"),
    path("api/sessions/<str:name>/suggestions", views.suggestions, name="api-suggestions"),
    path("api/sessions/<str:name>/attachments", views.post_attachment, name="api-attachments"),
    path("api/sessions/<str:name>/canned-replies/<str:reply_id>", views.filled_canned_reply, name="api-canned-fill"),
    path("api/agents", views.agent_list, name="api-agents"),
    path("api/me/presence", views.my_presence, name="api-presence"),
    path("api/canned-replies", views.canned_replies, name="api-canned-replies"),
    path("api/canned-replies/<str:reply_id>", views.canned_reply, name="api-canned-reply"),
]
