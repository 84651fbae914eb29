"""One module per page: ``layout(ctx, params)`` builds it, ``register(app)`` wires its callbacks."""
