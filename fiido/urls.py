from django.contrib import admin
from django.urls import include, path

from fiido import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("workbench/", include("workbench.urls")),
    path("", include("chatbot.urls")),
]
