"""The dummy credentials of every call to the local stack's AWS (moto server): moto accepts any, and explicit
dummies keep a developer's real ones out of local calls."""

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# The same, as the environment variables boto3 reads (a handler's process, a shell's export line).
LOCAL_CREDENTIALS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
}
