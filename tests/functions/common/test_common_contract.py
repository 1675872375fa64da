"""The values the functions share with the template and the tools (functions/common/contract.py), pinned: each is
written into data that outlives a deploy (items, objects, message attributes, IAM conditions, a Glue table), so
changing one is a migration, never a rename."""

from functions.common import contract


def test_the_names_written_into_stored_data_are_pinned() -> None:
    # GIVEN items, objects and dead-lettered messages written by earlier versions
    # THEN the names that find them again are unchanged
    assert contract.DEAD_LETTER_REASON_ATTRIBUTE == "dead_letter_reason"  # in archived DLQ lines
    assert contract.CANARY_ID_PREFIX == "canary-"  # the canary's IAM conditions and its stored events' ids
    assert contract.CANARY_ATTRIBUTE == "canary"  # marks canary items in the table
    assert contract.EXPIRES_AT_ATTRIBUTE == "expires_at"  # the table's TTL attribute: changing it replaces the TTL
    assert contract.ANALYTICS_PREFIX == "events"  # the Glue table's location
    assert contract.ANALYTICS_CANARY_PREFIX == "canary"


def test_the_analytics_columns_are_pinned_in_the_glue_tables_order() -> None:
    # THEN the store's lines and the Glue table (and the local DuckDB view) name the same columns in this order
    assert contract.ANALYTICS_COLUMNS == (
        "event_id",
        "received_at",
        "raw",
        "source_ip",
        "user_agent",
        "api_key_id",
        "request_id",
        "trace_id",
    )


def test_the_canary_prefixes_keep_its_objects_outside_the_analytics_store() -> None:
    # THEN a canary object's prefix is beside the analytics prefix, not under it: queries never see canary events
    assert not contract.ANALYTICS_CANARY_PREFIX.startswith(contract.ANALYTICS_PREFIX)
    assert not contract.ANALYTICS_PREFIX.startswith(contract.ANALYTICS_CANARY_PREFIX)


def test_weekdays_are_the_configurations_spelling_in_python_weekday_order() -> None:
    # THEN Monday is 0, as datetime.weekday() counts, and each day is spelled as sluice.toml spells it
    assert contract.WEEKDAYS == ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def test_an_sns_subject_stays_under_100_characters() -> None:
    # THEN the longest subject sent is 99: SNS Publish takes subjects "less than 100 characters long"
    # (botocore's sns model, PublishInput.Subject)
    assert contract.SNS_SUBJECT_MAX_CHARS == 99
