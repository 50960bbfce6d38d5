"""Premium and earnings statements, dashboards' figures and the jeweller's earnings page."""
