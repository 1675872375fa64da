"""Helpers shared by the four functions: environment, envelope, archive format, SQS records, errors."""
