# A real MCP server (the official Python SDK) for the end-to-end tests,
# serving streamable HTTP on port 8000 of its container.
ARG PYTHON_IMAGE=python:3.12-slim
FROM ${PYTHON_IMAGE}
COPY requirements.txt mcp_server.py /srv/
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --quiet -r /srv/requirements.txt
EXPOSE 8000
CMD ["/opt/venv/bin/python", "/srv/mcp_server.py", "8000", "0", "0.0.0.0"]
