"""`invoke cost`'s report: the suggested budget, the sink table, and batches the API would refuse."""

from __future__ import annotations

import pytest

from core.config import load_config
from ops.cost import Inventory, Prices, estimate, sink_shapes
from ops.cost_report import check_batch, format_sinks, suggested_budget
from ops.errors import OpsError
from tests.ops.cost_helpers import FLAT, WORKLOAD


@pytest.mark.parametrize(
    ("monthly", "budget"), [(564.96, 850), (3.2, 5), (99.5, 150), (1017.2, 1600), (0.5, 1), (0.0, 1)]
)
def test_the_suggested_budget_is_one_and_a_half_times_rounded_up_to_two_figures(monthly: float, budget: int) -> None:
    assert suggested_budget(monthly) == budget


def test_an_impossible_batch_is_one_line() -> None:
    with pytest.raises(OpsError, match=r"--batch: expected 1–500"):
        check_batch(load_config("dev"), 501, 100)
    with pytest.raises(OpsError, match=r"exceeds api\.max_body_bytes"):
        check_batch(load_config("dev"), 500, 200_000)


def test_each_sink_configuration_is_priced_with_the_consumer_batches_it_deploys_with(prices: Prices) -> None:
    # GIVEN dev (the table only, consumer batches of 100; analytics.s3_only_batch_size 1000)
    config = load_config("dev")
    # WHEN the sink configurations are priced side by side
    estimates = [estimate(config, prices, WORKLOAD, shape, Inventory(), FLAT) for shape in sink_shapes(config, 50)]
    table = format_sinks(estimates, config.sinks)
    # THEN S3 alone runs a tenth of the consumer invocations (1 s each here), and says which batches it priced
    invocations = {
        each.shape.sinks: next(line.quantity for line in each.lines if line.item == "consumer invocations")
        for each in estimates
    }
    assert invocations == {("dynamodb",): 36_000, ("dynamodb", "s3"): 36_000, ("s3",): 3_600}
    assert "sinks s3 (consumer batches of 1000)" in table[-1]
    # AND the configuration dev runs is marked
    assert [line.endswith("← this environment") for line in table[2:]] == [True, False, False]
