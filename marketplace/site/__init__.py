"""Site: the home page, the transparency page and the health check."""
