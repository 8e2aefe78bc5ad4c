"""The HTTP surface: one module per public surface over the yard's domain services."""
