package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// readyTimeout bounds how long a cluster may take to form.
const readyTimeout = 60 * time.Second

var client = &http.Client{Timeout: 5 * time.Second}

// printFreePorts holds n listeners open at once, so the ports differ, then frees them.
func printFreePorts(w io.Writer, count string) error {
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		return fmt.Errorf("%w (N must be a positive number)", errUsage)
	}
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	_, err = fmt.Fprintln(w, strings.Join(ports, " "))
	return err
}

// waitReady polls every URL until it answers 200.
func waitReady(ctx context.Context, urls []string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for _, u := range urls {
		for {
			resp, err := get(ctx, u)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return fmt.Errorf("%s is not ready: %w", u, err)
			}
		}
	}
	return nil
}

// printLeader asks a coal-mine node for the leader until one is known.
func printLeader(ctx context.Context, w io.Writer, node string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		var status struct {
			LeaderHTTPAddr string `json:"leader_http_addr"`
		}
		if err := getJSON(ctx, strings.TrimRight(node, "/")+"/coal-mine/v1/cluster/status", &status); err == nil && status.LeaderHTTPAddr != "" {
			base := status.LeaderHTTPAddr
			if !strings.Contains(base, "://") {
				base = "http://" + base
			}
			_, err := fmt.Fprintln(w, base)
			return err
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("no leader known to %s: %w", node, err)
		}
	}
}

// printEtcdLeader finds the etcd member that is the leader: the one whose own id is
// the leader id its status reports.
func printEtcdLeader(ctx context.Context, w io.Writer, urls []string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		for _, u := range urls {
			var status struct {
				Header struct {
					MemberID string `json:"member_id"`
				} `json:"header"`
				Leader string `json:"leader"`
			}
			err := postJSON(ctx, strings.TrimRight(u, "/")+"/v3/maintenance/status", []byte("{}"), &status)
			if err == nil && status.Leader != "" && status.Leader == status.Header.MemberID {
				_, err := fmt.Fprintln(w, u)
				return err
			}
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("no etcd leader among %v: %w", urls, err)
		}
	}
}

func get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return client.Do(req)
}

func getJSON(ctx context.Context, url string, out any) error {
	resp, err := get(ctx, url)
	if err != nil {
		return err
	}
	return decode(resp, url, out)
}

func postJSON(ctx context.Context, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	return decode(resp, url, out)
}

func decode(resp *http.Response, url string, out any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %.300s", url, resp.Status, body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// printRaftIndex prints a node's Raft commit index: coal-mine's cluster status, else
// etcd's maintenance status (whose raftIndex is its committed index).
func printRaftIndex(ctx context.Context, w io.Writer, node string) error {
	node = strings.TrimRight(node, "/")
	var coalMine struct {
		CommitIndex *uint64 `json:"commit_index"`
	}
	if err := getJSON(ctx, node+"/coal-mine/v1/cluster/status", &coalMine); err == nil && coalMine.CommitIndex != nil {
		_, err := fmt.Fprintln(w, *coalMine.CommitIndex)
		return err
	}
	var etcd struct {
		RaftIndex string `json:"raftIndex"` // int64 fields are strings in the gateway's JSON
	}
	if err := postJSON(ctx, node+"/v3/maintenance/status", []byte("{}"), &etcd); err != nil {
		return fmt.Errorf("no Raft index from %s: %w", node, err)
	}
	_, err := fmt.Fprintln(w, etcd.RaftIndex)
	return err
}
