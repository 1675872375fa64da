"""The composition root: the whole template (pipeline, alarms, dashboards, budget) put together and written out."""
