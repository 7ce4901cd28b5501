"""Talking to Azure Resource Manager: session, auth, retries, long-running operations, errors, ids."""
