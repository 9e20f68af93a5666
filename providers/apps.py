from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Revenue providers"

    def ready(self) -> None:
        from providers import checks, registry  # noqa: F401  (registers the check and the reset hook)
