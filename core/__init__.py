"""The kernel: what every app stands on, importing no app and no face of the portal."""
