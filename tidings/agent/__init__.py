"""The agent: a LangGraph graph per case that classifies, matches the order, decides, resolves or
escalates, and notifies. ``graph.py`` wires the nodes; each node is a module of its own."""
