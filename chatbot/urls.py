from django.urls import path
from django.views.i18n import JavaScriptCatalog

from chatbot import views

app_name = "chatbot"

# GET /api/sessions/<name>/events is served by chatbot.streams (routed in fiido.asgi).
urlpatterns = [
    path("", views.chat_page, name="chat"),
    # The page scripts' translations, in the customer's language (fiido/i18n.py).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="jsi18n"),
    path("api/sessions", views.start_session, name="start"),
    path("api/support-status", views.support_status, name="support-status"),
    path("resume/<str:token>", views.resume, name="resume"),
    path("api/sessions/<str:name>", views.session_detail, name="detail"),
    path("api/sessions/<str:name>/messages", views.messages, name="messages"),
    path("api/sessions/<str:name>/escalate", views.escalate, name="escalate"),
    path("api/sessions/<str:name>/cancel-escalation", views.cancel_escalation, name="cancel"),
    path("api/sessions/<str:name>/close", views.close, name="close"),
    path("api/sessions/<str:name>/typing", views.typing, name="typing"),
    path("api/sessions/<str:name>/rating", views.rate, name="rating"),
    path("api/sessions/<str:name>/attachments", views.post_attachment, name="attachments"),
    # One URL for a file, whoever reads it: its customer or an agent (chatbot.selectors.access_attachment).
    path("api/sessions/<str:name>/attachments/<str:attachment_id>", views.attachment, name="attachment"),
]
