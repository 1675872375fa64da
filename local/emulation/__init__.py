"""moto server and what it carries in its own process: its lifecycle, the guard in front of it, the indexed SQS
queues, and the patches that keep its memory bounded."""
