"""The consumer function: SQS ingest queue → DynamoDB events table."""
