"""CloudWatch's semantics, re-implemented: metric math, alarm evaluation and the rules our alarms are checked by."""
