"""The operators' web console: login, status page, administration, /metrics and /healthz.

Entry points: `app.create_app(config, engine)` and `server.WebServer(config, engine)`.
"""
