"""W3C trace context with OpenTelemetry: a span per HTTP request, per consumed event and per outbound webhook.

The trace id travels as a `traceparent`: HTTP request -> the event's `traceparent` (outbox row, Kafka header)
-> the consumer's span -> a delivery row -> the partner's webhook request. The current span is what the JSON
log formatter (service_kit.logs) prints as trace_id and span_id. No exporter is configured: the spans give ids
to logs and headers; sending spans to a collector is a deployment's later choice.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, format_span_id, format_trace_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT_HEADER = "traceparent"
PROPAGATOR = TraceContextTextMapPropagator()
# A provider of our own rather than the global one: it generates ids (the API alone does not), and a library
# that sets the global provider cannot change ours.
_PROVIDER = TracerProvider()
_TRACER = _PROVIDER.get_tracer("service_kit")


def context_from(traceparent: str | None) -> Context:
    """The remote parent a `traceparent` names; an empty context (a new trace) when absent or malformed."""
    if not traceparent:
        return Context()
    return PROPAGATOR.extract({TRACEPARENT_HEADER: traceparent})


@contextmanager
def span(name: str, *, traceparent: str | None = None, kind: SpanKind = SpanKind.INTERNAL) -> Iterator[Span]:
    """A span that is current inside the block: the child of `traceparent`, or the root of a new trace."""
    with _TRACER.start_as_current_span(name, context=context_from(traceparent), kind=kind) as current:
        yield current


def current_traceparent() -> str | None:
    """The `traceparent` of the current span (what goes on an outgoing request or event), if any."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT_HEADER)


def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span, hex as in a traceparent, or None outside a span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format_trace_id(context.trace_id), format_span_id(context.span_id)
