# Haven's application image: the same image runs web (uvicorn), worker and beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY inbox ./inbox
COPY channels_bridge ./channels_bridge
COPY redaction ./redaction
RUN pip install --no-cache-dir .
COPY manage.py ./
COPY templates ./templates
COPY static ./static
# collectstatic needs settings to load; these throwaway values exist only during the build.
RUN DJANGO_SECRET_KEY=build HAVEN_MASTER_KEYS="build:$(python -c 'import base64;print(base64.b64encode(bytes(32)).decode())')" \
    HAVEN_PEPPER=build python manage.py collectstatic --no-input
RUN useradd --system --uid 10001 haven
USER haven
EXPOSE 8000
