from django.contrib import admin
from django.urls import include, path

from fiido import health, openapi

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("api/schema/", openapi.schema_view, name="openapi-schema"),
    path("workbench/", include("workbench.urls")),
    path("", include("chatbot.urls")),
]

# An unrouted API path, or a body Django could not parse, answers {"error"} JSON too (fiido.http).
handler404 = "fiido.http.page_not_found"
handler400 = "fiido.http.bad_request"
