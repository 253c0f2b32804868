"""Where is my order: one answer, whether the customer asks or we tell them first."""
