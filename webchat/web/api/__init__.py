"""The API for programs: OpenAI chat completions, the caller's conversations and files as JSON,
and the OpenAPI description of it all.

- ``access``: the guard every API request passes (the API on, a valid token), the caller;
- ``errors``: OpenAI-shaped errors for everything on an API path;
- ``openai``: the chat-completions wire format, in and out (no Flask);
- ``schemas``: the bodies as pydantic models (validation, answers, JSON Schema);
- ``completions``, ``conversations``, ``files``: the routes; ``openapi``: the description.
"""

from webchat.web.api import completions, conversations, files, openapi

BLUEPRINTS = (completions.bp, conversations.bp, files.bp, openapi.bp)
