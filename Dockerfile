# The user-facing API's own image. Build: docker build -t decode-userapi .
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir -c requirements.lock .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 api
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000 \
    PYTHONUNBUFFERED=1
WORKDIR /home/api
USER api
EXPOSE 8000
CMD ["decode-userapi", "serve"]
