"""Katib early-stopping services of katib-llm (gRPC; no ML stack)."""
