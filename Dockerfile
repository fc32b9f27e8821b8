# The user-facing API's own image. Build: docker build -t decode-userapi .
# Run: docker run -p 8000:8000 -v decode-data:/data decode-userapi
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir -c requirements.lock .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 api \
 && mkdir /data && chown api /data
COPY --from=build /opt/venv /opt/venv
# The example registry (DECODE train/fit); mount or point APPLICATION_CONFIG_FILE at yours.
COPY application_config.yaml /app/application_config.yaml
# Everything the embedded default keeps (SQLite, files, signing key) lives in /data.
# Server processes: WORKERS or WEB_CONCURRENCY (default 1).
ENV PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000 \
    PYTHONUNBUFFERED=1 \
    APPLICATION_CONFIG_FILE=/app/application_config.yaml \
    DATABASE_URL=sqlite:////data/sql_app.db \
    USER_DATA_ROOT_PATH=/data/user_data \
    LOCAL_IDENTITY_KEY_PATH=/data/identity_key.pem
VOLUME /data
WORKDIR /home/api
USER api
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["decode-userapi", "serve"]
