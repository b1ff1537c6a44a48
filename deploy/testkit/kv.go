package testkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// KV is the replicated state machine of the Raft tests (cluster, its storage): a
// string map. Apply returns the number of keys after the command.
type KV struct {
	mu   sync.Mutex
	data map[string]string
	// Delay is slept in every Apply: a state machine with work queued. Set it before
	// Raft starts.
	Delay time.Duration
}

type kvCommand struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// NewKV returns an empty KV.
func NewKV() *KV { return &KV{data: make(map[string]string)} }

// SetCmd is the command that sets key to value.
func SetCmd(key, value string) []byte {
	b, _ := json.Marshal(kvCommand{Key: key, Value: value})
	return b
}

func (f *KV) Apply(l *raft.Log) any {
	var c kvCommand
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("bad command: %w", err)
	}
	time.Sleep(f.Delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data[c.Key] = c.Value
	return len(f.data)
}

// Get returns the value of key.
func (f *KV) Get(key string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.data[key]
	return v, ok
}

func (f *KV) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(f.data) // maps marshal in key order
	return kvSnapshot(b), err
}

func (f *KV) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data := make(map[string]string)
	if err := json.NewDecoder(rc).Decode(&data); err != nil {
		return err
	}
	f.mu.Lock()
	f.data = data
	f.mu.Unlock()
	return nil
}

// ValidateSnapshot makes KV a snapshot validator: one JSON object, nothing after it.
func (f *KV) ValidateSnapshot(r io.Reader) error {
	var data map[string]string
	dec := json.NewDecoder(r)
	if err := dec.Decode(&data); err != nil {
		return fmt.Errorf("kv snapshot: %w", err)
	}
	if data == nil {
		return errors.New("kv snapshot: not an object")
	}
	if dec.More() {
		return errors.New("kv snapshot: data after the object")
	}
	return nil
}

type kvSnapshot []byte

func (s kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s kvSnapshot) Release() {}
