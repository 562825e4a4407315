"""HTTP routes of the SOC API; thin: validate, call :mod:`soc_api.crud`, shape the response."""
