from django.apps import AppConfig


class SkeldirConfig(AppConfig):
    name = "skeldir"
    verbose_name = "Skeldir"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from skeldir import auth, checks  # noqa: F401  (registers the checks and the key-ring reset hook)
