from django.apps import AppConfig


class WorkbenchConfig(AppConfig):
    name = "workbench"
    verbose_name = "Agent workbench"

    def ready(self) -> None:
        from workbench import checks, signals  # noqa: F401 - registers the system checks and signal receivers
