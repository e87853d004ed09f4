from django.apps import AppConfig


class DriversConfig(AppConfig):
    name = "drivers"
    verbose_name = "Drivers and backends"

    def ready(self) -> None:
        from drivers import rpc  # noqa: F401 -- registers the JSON-RPC methods
