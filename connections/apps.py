from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Platform connections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from connections import checks  # noqa: F401  (registers the CONNECTIONS_OAUTH check)
        from connections.oauth import registry  # noqa: F401  (the settings reset hook)
