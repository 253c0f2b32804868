"""One router module per resource; ``create_app`` includes them all."""
