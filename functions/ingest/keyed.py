"""Requests with an Idempotency-Key: one outcome per (API key id, Idempotency-Key), remembered with the
request's fingerprint — Powertools' idempotency utility with its DynamoDB persistence and payload validation.

- a true retry (same key, same events) gets the remembered 202 body and queues nothing again;
- the same key with other events is refused (422), as the IETF draft "The Idempotency-Key HTTP Header Field"
  asks for a key reused with another payload: the client is told, and nothing is queued;
- the same key while its first request is still running is refused (409): the client retries and then gets
  the first request's answer, so concurrent identical requests yield one set of ids;
- only a 202 is remembered: a failed or partial send forgets the key, so the client may resend the whole body
  or only the failed events, with the same key;
- when the idempotency table cannot be reached the request is still accepted without the reuse check, and
  logged: ingest keeps accepting events while DynamoDB is down, as the design promises.

None of this can lose an accepted event. The ids are derived from the key AND the events' fingerprint
(functions/common/envelope.py, derived_event_id), so an id only ever names one event text: a true retry gets
the same ids and the consumer stores each once (its first write wins), and other events under a key the table
does not hold (forgotten after a failure, expired, or the table unreachable) get ids of their own, never the
id of a stored event that would make the consumer drop them.

This module imports boto3 (Powertools' DynamoDB layer does): the handler imports it on the first keyed
request, so an unkeyed cold start stays as fast as before.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ingest.request import RequestInfo, RequestRejected

logger = Logger(child=True)  # named after POWERTOOLS_SERVICE_NAME

Response = dict[str, Any]
Accept = Callable[[list[str], RequestInfo], Response]
"""Queue the events and answer: 202 when every event is in the queue."""
RememberedAnswer = Callable[[str], Response]
"""The answer to a true retry, from the remembered 202 body."""

# Fixed: the stored records are found by it (Powertools' default would follow the function's name).
KEY_PREFIX = "ingest-events"


class _NotAccepted(Exception):
    """The send did not queue every event: Powertools forgets the key, the client gets `response`."""

    def __init__(self, response: Response) -> None:
        super().__init__(response["statusCode"])
        self.response = response


@dataclass
class _Call:
    """One request's events and metadata, and what queueing them answered (None until it ran)."""

    raws: list[str]
    info: RequestInfo
    response: Response | None = None


class KeyedRequests:
    def __init__(self, table_name: str, client: Any, expires_after_seconds: int, accept: Accept) -> None:
        self._accept = accept
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="events",
            expires_after_seconds=expires_after_seconds,
            hash_function="sha256",
        )
        self.client = client  # the idempotency table's DynamoDB client (tests and fault injection reach it here)
        persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._once = idempotent_function(
            self._run,
            data_keyword_argument="request",
            persistence_store=persistence,
            config=self._config,
            key_prefix=KEY_PREFIX,
        )

    def _run(self, request: dict[str, Any]) -> str:
        call: _Call = request["call"]
        call.response = self._accept(call.raws, call.info)
        if call.response["statusCode"] != 202:
            raise _NotAccepted(call.response)
        return call.response["body"]

    def handle(
        self, raws: list[str], info: RequestInfo, context: LambdaContext, remembered_answer: RememberedAnswer
    ) -> Response:
        """Accept a keyed request at most once; RequestRejected (422, 409) when the key forbids it."""
        call = _Call(raws, info)
        # The events are what the key promises; Powertools hashes them (sha256) as the request's fingerprint.
        request = {"key": [info.api_key_id or "", info.idempotency_key], "events": raws, "call": call}
        self._config.register_lambda_context(context)  # bounds an in-progress record by the invocation's time
        try:
            remembered = self._once(request=request)
        except _NotAccepted as not_accepted:
            return not_accepted.response
        except IdempotencyValidationError:
            raise RequestRejected(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with other events; use a new key for a new request",
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise RequestRejected(
                409,
                "request_in_progress",
                "a request with this Idempotency-Key is still being accepted; retry it shortly",
            ) from None
        except IdempotencyPersistenceLayerError:
            logger.warning("idempotency table unavailable: keyed request accepted without the reuse check")
            return call.response if call.response is not None else self._accept(raws, info)
        return call.response if call.response is not None else remembered_answer(remembered)
