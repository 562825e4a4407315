"""Pydantic models of the HTTP API (request and response bodies), by family."""
