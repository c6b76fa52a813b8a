"""Rule kinds, the engine that plans and runs them, and the violation lifecycle."""
