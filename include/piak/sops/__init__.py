"""One module per SOP: the code its DAG runs (and the SOP tables, ``*.yaml``, beside it)."""
