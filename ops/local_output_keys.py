"""The keys the local stack adds to the template's outputs in its outputs file (local/stack/runtime.py writes
them, the operator tools, the load tests and the tests read them): each named once, here, below both. The
template's own keys are in cloudformation/output_keys.py."""

API_KEY = "ApiKey"  # the clients' API key's value (on AWS it stays behind apigateway get-api-key)
AWS_ENDPOINT = "AwsEndpoint"
REGION = "Region"
ENV = "Env"  # the configuration this stack runs
CONTROL_URL = "ControlUrl"
CONSOLE_URL = "ConsoleUrl"
STARTED_AT = "StartedAt"
FUNCTIONS_LOG = "FunctionsLog"
NOTIFICATIONS_LOG = "NotificationsLog"
