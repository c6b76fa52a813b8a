"""Direct notifications: the outbox drained into grouped, rate-limited, retried messages sent by apprise.

Imports the kernel only (config, store); the checks write the outbox, this package reads it.
"""
