from django.apps import AppConfig


class SkeldirConfig(AppConfig):
    name = "skeldir"
    verbose_name = "Skeldir"
    default_auto_field = "django.db.models.BigAutoField"
