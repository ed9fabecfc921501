# Everyday Backstop commands. By default they run in the compose stack's sidecar; against a
# local database use the checkout's launcher: make backup BACKSTOP=./backstop
BACKSTOP ?= docker compose exec -T backup backstop
COMPOSE  ?= docker compose
LABEL    ?= pre-migration
BACKUP   ?= pinned
INTO     ?= app

.PHONY: help up down down-volumes logs backup list check ack verify restore test
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

up: ## start the stack (database, backup sidecar, Prometheus, Alertmanager, Grafana)
	$(COMPOSE) up -d

down: ## stop the stack; volumes and backups stay
	$(COMPOSE) down

down-volumes: ## take a backup, ask for typed confirmation, then docker compose down -v
	$(BACKSTOP) backup --label pre-down-volumes
	@printf 'This deletes the stack'"'"'s volumes, the database with them. Type "delete volumes" to continue: '; \
	read answer; [ "$$answer" = "delete volumes" ] || { echo "not confirmed; nothing was deleted"; exit 1; }
	$(COMPOSE) down -v

logs: ## follow the backup sidecar's logs
	$(COMPOSE) logs -f backup

backup: ## a verified backup now, labelled $(LABEL): run it before any migration; exit 0 = safe to proceed
	$(BACKSTOP) backup --label $(LABEL)

list: ## the backups, with time, tier, size, rows, verified and pinned
	$(BACKSTOP) list

check: ## live row counts against the baseline; exit 1 when rows disappeared
	$(BACKSTOP) check

ack: ## accept a data drop as intended: current counts become the baseline, pins are released
	$(BACKSTOP) ack

verify: ## restore drill of the newest backup into a scratch database
	$(BACKSTOP) verify

restore: ## restore BACKUP (default: pinned) into INTO (default: app), replacing it after a safety backup
	$(BACKSTOP) restore $(BACKUP) --into $(INTO) --clean

test: ## every test (what CI runs)
	./test
