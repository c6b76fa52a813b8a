"""The rule kinds, one module each, registered by kind name in checks.registry."""
