from django.apps import AppConfig


class WorkbenchConfig(AppConfig):
    name = "workbench"
    verbose_name = "Agent workbench"

    def ready(self) -> None:
        from fiido.realtime.presence import register_announcer
        from workbench import checks, presence, signals  # noqa: F401 - registers the system checks and signal receivers

        # Told once, across workers, when an agent's first workbench page opens or last one closes.
        register_announcer(presence.announce)
