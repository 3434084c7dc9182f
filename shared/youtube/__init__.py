"""YouTube publishing: OAuth tokens per account, the Data API gateway, accounts, rotation and quota.

Submodules are imported where they are used (the gateway pulls in google-api-python-client).
"""
