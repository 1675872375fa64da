"""The archiver function: SQS dead-letter queue → gzip JSON Lines objects in S3."""
