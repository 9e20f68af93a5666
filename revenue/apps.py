from django.apps import AppConfig


class RevenueConfig(AppConfig):
    name = "revenue"
    verbose_name = "Revenue"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from revenue import checks  # noqa: F401  (registers the timing checks)
