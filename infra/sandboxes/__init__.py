"""Sandbox servers that speak the wire protocols of YouTube, OpenAI, Google TTS and stock-media APIs.

Each is a Flask app built by `make_sandbox_app`, sharing one control surface (`/_control/...`) so tests
and operators can inject faults and read the request log. They know nothing of the project's code.
"""
