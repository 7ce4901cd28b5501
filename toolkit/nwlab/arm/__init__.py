"""Talking to Azure Resource Manager: session, auth, retries, long-running operations, errors, ids.

Where things are: session.py (ArmClient: requests, retries, the shared 429 back-off,
write_budget_scope), auth.py (credentials and token cache), clouds.py, errors.py (the typed
errors), ids.py (resource ids), lro.py (polling), origin.py (where a token may go),
transport.py, headers.py, resource_graph.py (Azure Resource Graph queries), throttle.py (the
write budget: TokenBucket, FairTokenBucket, AdaptiveBudget, BudgetScope). Nothing here imports
the domain (model, watcher) or the package face.
"""
