"""SOC API: the FastAPI service in front of the alert database (alerts, users, audit, UI).

Stage neighbours: detections arrive from the bus topic ``soc.alerts`` and are folded into alerts
by :mod:`soc_api.sink`; events are read back from the event store; analysts, units and the
national feed meet the data through the HTTP routes built by :func:`soc_api.app.create_app`.
"""
