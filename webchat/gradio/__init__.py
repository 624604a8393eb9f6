"""The Gradio-compatible surface: what ``import webchat as gr`` gives a Gradio program.

- ``interface``: ChatInterface, the facade over a chat function;
- ``context``: the layout stack while a ``gr.Blocks`` is built; ``components``: the components;
  ``events``: listeners and event data; ``blocks``: Blocks and its containers; ``runner``: the
  chat function that runs a Blocks layout's handlers;
- ``page``: what a program adds to the chat page; ``launch``: the app it builds and ``launch()``;
- ``media``: gr.Image, gr.Audio, ... in a reply.

It builds its app with ``webchat.app.create_app`` and reaches the routes only through
``webchat.web.page`` (the page to draw and its ``Program`` protocol): nothing below imports it.
"""
