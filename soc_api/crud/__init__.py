"""Data-access layer of the SOC API: every database read and write the routes and sinks need."""
