from django.apps import AppConfig


class FiidoConfig(AppConfig):
    name = "fiido"
    verbose_name = "Fiido service desk"

    def ready(self) -> None:
        from fiido import checks  # noqa: F401  (registers the system checks)
