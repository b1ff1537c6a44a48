package fsm

import (
	"bufio"
	"bytes"
	"fmt"
)

// MarshalBinary encodes the canary as a snapshot holds it, so that a canary that
// crosses the wire (a relayed command's result) renders exactly as one read locally.
func (c *Canary) MarshalBinary() ([]byte, error) {
	e := encoder{}
	e.canary(c)
	return e.buf, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, all of it and nothing more.
func (c *Canary) UnmarshalBinary(data []byte) error {
	d := decoder{format: snapshotFormat, r: bufio.NewReader(bytes.NewReader(data))}
	decoded := d.canary()
	if d.e != nil {
		return fmt.Errorf("decode canary: %w", d.e)
	}
	if _, err := d.r.ReadByte(); err == nil {
		return fmt.Errorf("decode canary: %w: trailing bytes", errCorrupt)
	}
	*c = *decoded
	return nil
}
