"""Where is my order: one answer, whether the customer asks or we tell them first.

- ``status``: the status a customer should hear (the agent's WISMO answers and proactive notices);
- ``events``, ``aftership``, ``easypost``: tracking updates in, one history per parcel;
- ``detect``: the delay rules, in SQL for the scan and in Python for one order;
- ``episodes``: one delay episode per parcel and problem (and carriers' emails through them);
- ``policy``: who hears what, in which language, on which channel first;
- ``scan``, ``views``: the set-based scan over every open shipment;
- ``report``: what it achieved (``tidings wismo report``, /metrics).
"""
