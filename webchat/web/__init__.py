"""The HTTP and websocket layer: thin routes that parse, call one function and render."""
