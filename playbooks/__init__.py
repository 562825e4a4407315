"""Incident-response playbooks as data, one per national incident type (see regulations.md).

The runner that attaches playbooks to incidents and executes their automatic steps arrives with
the incident workflow; this package is imported by ``soc_api`` only.
"""
