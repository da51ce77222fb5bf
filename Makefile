# careerledger: the index of habits. `make run` serves the whole product with
# embedded defaults; `make test` runs every test against real services.

SHELL       := /bin/bash
GO          ?= go
PG_URL      ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
NATS_ADDR   ?= 127.0.0.1:4222
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
INFRA       := jackc/pgx|nats-io|ThreeDotsLabs|99designs/gqlgen|net/http$$|database/sql$$

.PHONY: run test test-short bench lint generate services up down build clean

## run: careerd with its embedded defaults (JetStream in-process, in-memory read models, GraphiQL, dev token)
run:
	$(GO) run ./cmd/careerd --dev

## build: the two programs into ./bin
build:
	$(GO) build -o bin/ ./cmd/...

## test: every test, against the local PostgreSQL and NATS (started if down),
## and the event log's package again under the race detector: the Recorder
## hands a person's lock to the goroutine that folds the appended event, an
## order that a broken handover keeps every answer right and only the
## detector sees
test: services
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -race -count=1 -timeout 10m ./events/

## test-short: the fast tests only
test-short:
	$(GO) test -short -count=1 ./...

## bench: every benchmark against its raw baseline, one table
bench: services
	$(GO) run ./bench

## lint: gofmt, go vet, staticcheck, import direction, no env/exit below cmd
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@bad=$$($(GO) list -deps ./domain/... | grep -E '$(INFRA)' || true); \
	  if [ -n "$$bad" ]; then echo "domain imports infrastructure: $$bad"; exit 1; fi
	@bad=$$($(GO) list -f '{{.ImportPath}}: {{join .Imports " "}}' ./domain/... | grep -vE ': ([a-z0-9/]+ ?)*$$' || true); \
	  if [ -n "$$bad" ]; then echo "domain imports beyond the standard library: $$bad"; exit 1; fi
	@bad=$$(git grep -nE 'os\.(Getenv|LookupEnv|Environ|Exit)\(' -- '*.go' ':!cmd/' ':!*_test.go' ':!bench/' || true); \
	  if [ -n "$$bad" ]; then echo "only cmd/ may read the environment or exit:"; echo "$$bad"; exit 1; fi
	@echo lint ok

## generate: gqlgen; CI fails if the committed code differs
generate:
	cd graph && $(GO) tool gqlgen generate
	@git diff --exit-code -- graph || (echo "generated code differs from the committed code"; exit 1)

## services: start PostgreSQL and NATS (JetStream) if they are not running
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
	  (pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start && sleep 2)
	@(exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null || \
	  (start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server && sleep 1)

## up / down: the production topology in docker compose (3-node NATS, PostgreSQL, two careerd)
up:
	docker compose up -d --build
down:
	docker compose down

clean:
	rm -rf bin data
