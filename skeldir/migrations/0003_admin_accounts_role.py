"""The admin's accounts move out of the runtime role's reach: Django's users, groups and
permissions, content types, sessions and admin history, and django-axes' login records are
read and written through the `admin` alias (skeldir.routers.AdminAccountsRouter) as a role
of their own (DATABASE_ADMIN_ROLE, created here if missing: LOGIN and nothing else). The
runtime role, which its default privileges had given DML on these tables like on every
other, loses every privilege on them, so an SQL-level foothold in the API can neither read
a password hash nor write a session or a group membership that would log it in as staff."""

from django.db import migrations

from skeldir.db_operations import admin_accounts_tables


class Migration(migrations.Migration):
    dependencies = [
        ("skeldir", "0002_tenants_rls"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("axes", "0010_accessattemptexpiration"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
    ]

    operations = [admin_accounts_tables(["admin", "auth", "axes", "contenttypes", "sessions"])]
