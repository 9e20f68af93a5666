from django.apps import AppConfig


class RevenueConfig(AppConfig):
    name = "revenue"
    verbose_name = "Revenue"
    default_auto_field = "django.db.models.BigAutoField"
