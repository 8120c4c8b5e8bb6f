"""`python -m drill.traces --port PORT`: run the OTLP/HTTP trace receiver (uvicorn) in the
foreground; `drill up --traces` starts it beside the local lab."""

import argparse

import uvicorn

from drill.traces.receiver import create_app
from drill.traces.settings import OTLP_HTTP_PORT
from drill.traces.store import DEFAULT_MAX_SPANS, TraceStore


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m drill.traces", description="Receive OTLP/HTTP traces and keep them."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=OTLP_HTTP_PORT, help="port to listen on")
    parser.add_argument(
        "--max-spans",
        type=int,
        default=DEFAULT_MAX_SPANS,
        help="spans kept in memory; the oldest traces go first",
    )
    args = parser.parse_args(argv)
    app = create_app(TraceStore(args.max_spans))
    print(f"trace receiver: OTLP/HTTP on http://{args.host}:{args.port}/v1/traces", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
