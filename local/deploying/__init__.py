"""Deploying the template into moto: CloudFormation through moto, then what moto's CloudFormation skips."""
