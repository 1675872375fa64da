"""The notifier function: low-tier notifications delivered in business hours, held otherwise."""
