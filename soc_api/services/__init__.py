"""Workflow rules kept apart from storage: configuration, risk and priority, the serious-incident
test, deadline clocks and the national incident-type mapping (data in :mod:`soc_api.data`)."""
