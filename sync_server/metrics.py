"""Prometheus metrics, in a registry that belongs to one app (no global registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .farm.metrics import FarmMetrics


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aipipe_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aipipe_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.websocket_clients = Gauge(
            "aipipe_websocket_clients", "Connected event-stream clients", registry=self.registry
        )
        self.events_dispatched = Counter(
            "aipipe_events_dispatched_total", "Events fanned out by this process", registry=self.registry
        )
        self.waiting_claims = Gauge(
            "aipipe_farm_waiting_claims",
            "Agents' claims this process holds open, waiting for a job (long-polls past their first pass)",
            registry=self.registry,
        )
        self.login_failures = Counter(
            "aipipe_login_failures_total", "Failed login attempts", registry=self.registry
        )
        self.farm = FarmMetrics(self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
