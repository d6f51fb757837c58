"""Disbursement channels: the adapter protocol, the sandbox channel, the router (pure ranking),
the circuit breaker (pure state machine) and Standard Webhooks signatures (pure)."""
