"""Traces without Jaeger: an OTLP/HTTP receiver of our own that the local lab's services export
to (`drill up --traces`), and `drill traces`, which prints what it received as indented trees.

The receiver is a Starlette app served by uvicorn (a well-kept HTTP server that already runs every
service of the lab), decoding OTLP protobuf with opentelemetry-proto. docs/traces.md says more.
This package's __init__ imports nothing: drill.lab imports drill.traces.settings.
"""
