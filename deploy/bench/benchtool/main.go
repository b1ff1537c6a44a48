// Command benchtool is the Go half of deploy/bench/run.sh: what would need jq, curl or
// fragile shell to do there. Subcommands:
//
//	benchtool ports N                      print N free loopback TCP ports
//	benchtool wait-ready URL...            wait until every URL answers 200
//	benchtool leader URL                   print the coal-mine leader's HTTP base URL
//	benchtool etcd-leader URL...           print the client URL of the etcd leader
//	benchtool raft-index URL               print a coal-mine or etcd node's commit index
//	benchtool late [flags]                 the late-detection scenario (see late.go)
//	benchtool storm [flags]                late with a webhook channel, 1 s window (storm.go)
//	benchtool table DIR                    print the results table of one run
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

var errUsage = errors.New(`usage: benchtool ports N | wait-ready URL... | leader URL | etcd-leader URL... | raft-index URL | late [flags] | storm [flags] | scale-import [flags] | table DIR`)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "ports" && len(rest) == 1:
		return printFreePorts(os.Stdout, rest[0])
	case cmd == "wait-ready" && len(rest) > 0:
		return waitReady(ctx, rest)
	case cmd == "leader" && len(rest) == 1:
		return printLeader(ctx, os.Stdout, rest[0])
	case cmd == "etcd-leader" && len(rest) > 0:
		return printEtcdLeader(ctx, os.Stdout, rest)
	case cmd == "raft-index" && len(rest) == 1:
		return printRaftIndex(ctx, os.Stdout, rest[0])
	case cmd == "late" || cmd == "storm":
		return runLate(ctx, os.Stdout, cmd, rest)
	case cmd == "scale-import":
		return runScaleImport(ctx, os.Stdout, rest)
	case cmd == "table" && len(rest) == 1:
		return printTable(os.Stdout, rest[0])
	}
	return errUsage
}
