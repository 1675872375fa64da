"""The project's own terms, below every layer: its configuration (sluice.toml), its service-level math and its paths."""
