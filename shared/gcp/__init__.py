"""Adapters of the ports onto Google Cloud: Firestore, Cloud Tasks, Cloud Storage, Secret Manager.

Each module imports only its own client library, so a function pays only for the adapters it uses.
"""
