"""The builder: requirements → plan → wheels. A client of the yard, never a part of it."""
