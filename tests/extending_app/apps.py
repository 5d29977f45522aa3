from django.apps import AppConfig


class ExtendingAppConfig(AppConfig):
    name = "tests.extending_app"
    label = "extending_app"
    default_auto_field = "django.db.models.BigAutoField"
