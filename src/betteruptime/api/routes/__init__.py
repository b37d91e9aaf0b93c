"""One module per resource: users, websites, status, health."""
