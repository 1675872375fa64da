"""The AWS services moto lacks, re-created in process: API Gateway, Lambda and its event source mappings, SNS to
Lambda, EventBridge Scheduler, CloudWatch alarm evaluation and the AWS/* metrics, and fault injection."""
