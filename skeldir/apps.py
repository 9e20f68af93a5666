from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SkeldirConfig(AppConfig):
    name = "skeldir"
    verbose_name = "Skeldir"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the checks, the key-ring reset hook and the operator alias's guard.
        from skeldir import auth, checks, operator  # noqa: F401


class OperatorAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the operators' site (staff only, every tenant) as `admin.site`."""

    default = False  # the skeldir app's own config stays SkeldirConfig

    default_site = "skeldir.admin_site.OperatorAdminSite"
