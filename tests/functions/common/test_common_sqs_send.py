"""SendMessageBatch entries grouped within SQS's limits: 10 entries and 1 MiB, attributes included."""

from functions.common.contract import DEAD_LETTER_REASON_ATTRIBUTE
from functions.common.sqs_send import BATCH_BYTES, batches, entry_bytes


def entry(index: int, body_bytes: int, reason: str = "") -> dict:
    attributes = {DEAD_LETTER_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason}} if reason else {}
    return {"Id": str(index), "MessageBody": "x" * body_bytes, "MessageAttributes": attributes}


def test_an_entry_counts_its_attributes_names_types_and_values() -> None:
    # botocore's MessageAttributeValue: "All parts of the message attribute, including Name, Type, and Value,
    # are part of the message size restriction"
    assert entry_bytes(entry(0, 100, reason="why")) == 100 + len(DEAD_LETTER_REASON_ATTRIBUTE) + len("String") + len(
        "why"
    )


def test_batches_hold_at_most_ten_entries() -> None:
    assert [len(batch) for batch in batches(entry(n, 10) for n in range(25))] == [10, 10, 5]


def test_batches_stay_within_one_mebibyte_counting_attributes() -> None:
    # GIVEN entries whose bodies alone fit two per call, but not with their attributes
    half = BATCH_BYTES // 2
    entries = [entry(n, half - 10, reason="r" * 20) for n in range(4)]
    # WHEN grouped THEN each call carries one: two bodies plus attributes exceed 1 MiB
    groups = list(batches(entries))
    assert [len(group) for group in groups] == [1, 1, 1, 1]
    assert all(sum(entry_bytes(e) for e in group) <= BATCH_BYTES for group in groups)


def test_an_oversized_entry_travels_alone() -> None:
    entries = [entry(0, 10), entry(1, BATCH_BYTES + 1), entry(2, 10)]
    assert [[e["Id"] for e in group] for group in batches(entries)] == [["0"], ["1"], ["2"]]
