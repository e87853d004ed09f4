from django.apps import AppConfig


class DriversConfig(AppConfig):
    """The drivers are plain modules behind a registry, with no models. The package stays an installed
    app only for its migrations: the Backend table was created here before it moved to ``backends``,
    and existing databases record those migrations under this label."""

    name = "drivers"
    verbose_name = "Drivers"
