"""The monthly cost budget: on the project tag, forecast to the low tier, actual to the high tier."""

import pytest

from cloudformation.common import PROJECT_TAG
from core.config import environment_names, load_config
from synth.synthesize import full_template


@pytest.mark.parametrize("env", environment_names())
def test_budget_shape(env):
    # GIVEN the template of an environment
    config = load_config(env)
    resources = full_template(config).to_dict()["Resources"]
    (budget,) = [body["Properties"] for body in resources.values() if body["Type"] == "AWS::Budgets::Budget"]
    data = budget["Budget"]
    # THEN a monthly cost budget of the configured amount, on the costs tagged with the stack's project tag
    assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
    assert data["BudgetLimit"] == {"Amount": config.budget.monthly_usd, "Unit": "USD"}
    assert data["CostFilters"] == {"TagKeyValue": [f"user:{PROJECT_TAG}${config.stack_name}"]}
    assert data["BudgetName"] == config.resource_name("monthly-cost")
    # AND the forecast above 80 % warns the low tier, the actual spend above 100 % pages the high tier
    notifications = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]): n
        for n in budget["NotificationsWithSubscribers"]
    }
    assert set(notifications) == {("FORECASTED", 80.0), ("ACTUAL", 100.0)}
    for (kind, _), entry in notifications.items():
        assert entry["Notification"]["ComparisonOperator"] == "GREATER_THAN"
        assert entry["Notification"]["ThresholdType"] == "PERCENTAGE"
        topic = "LowTopic" if kind == "FORECASTED" else "HighTopic"
        assert entry["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": topic}}]


def test_topics_let_budgets_publish():
    resources = full_template(load_config("prod")).to_dict()["Resources"]
    for policy in ("HighTopicPolicy", "LowTopicPolicy"):
        (statement,) = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
        assert "budgets.amazonaws.com" in statement["Principal"]["Service"]
