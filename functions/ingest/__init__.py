"""The ingest function: API Gateway REST `POST /events` → SQS."""
