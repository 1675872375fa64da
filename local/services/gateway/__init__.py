"""The local API Gateway: REST proxy semantics (keys, throttling, validation) behind a strict HTTP/1.1 server."""
