# Calypso: `make run` sets up and starts the portal; `make test` sets up and runs every test.
.PHONY: run test test-quick lint bench

run:
	bash bin/run

test:
	bash bin/test

# SQLite, no live worker/ASGI or host tools: a quick local loop.
test-quick:
	bash bin/test --quick

lint:
	.venv/bin/ruff check . && .venv/bin/lint-imports --no-cache && .venv/bin/python manage.py makemigrations --check --dry-run

bench:
	.venv/bin/python benchmarks/api_latency.py
