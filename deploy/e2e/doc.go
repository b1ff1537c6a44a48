// Package e2e is the Docker end-to-end suite: it starts the repository's own
// docker-compose.yml (three coal-mine nodes and the mail sink) under a project name of
// its own and checks the cluster's promises with real containers: writes from every
// node, a killed leader replaced and its late canary alerted exactly once, a restarted
// node catching up, a partitioned leader refusing writes, and `down` then `up` keeping
// every canary.
//
// The tests carry the e2e build tag, so `go test ./...` leaves them out. Run the suite
// with deploy/e2e/run.sh, which builds the images first and removes everything after:
//
//	deploy/e2e/run.sh
//
// Environment: COAL_MINE_E2E_PROJECT (compose project name, default generated),
// COAL_MINE_E2E_KEEP=1 (leave the containers running after the test, for debugging),
// COAL_MINE_E2E_FAILOVER_RUNS (leader kills to time, default 3).
package e2e
