# Shortcuts; each target is one command that also works by hand.
.PHONY: build test vet e2e docker bench

build:
	CGO_ENABLED=0 go build -o bin/ ./cmd/...

test:
	go test ./...

vet:
	go vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

docker:
	deploy/build.sh

e2e:
	deploy/e2e/run.sh

bench:
	deploy/bench/run.sh
