"""Helpers shared by the six functions (ingest, consumer, archiver, notifier, retrier, canary): environment,
envelope, archive format, SQS records, errors."""
