package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/gin-gonic/gin"
)

const contentTypeJSON = "application/json; charset=utf-8"

// reply is one answer: a status and a JSON body, or the body already encoded (raw).
type reply struct {
	status int
	body   any
	raw    []byte
}

// apiError is an error with the status and message a client sees.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) error { return &apiError{status: http.StatusBadRequest, msg: msg} }

// The original server's fixed error texts.
const (
	msgNotFound       = "404 Not Found"
	msgUnauthorized   = "401 Unauthorized"
	msgReadOnly       = "403 Forbidden: the read-only key may get, list and read the cluster's status, nothing else"
	msgNotAllowed     = "405 Method Not Allowed"
	msgCanaryNotFound = "Canary Not Found"
)

func okReply(body any) reply { return reply{status: http.StatusOK, body: body} }

// okRaw is a 200 whose body is already encoded.
func okRaw(body []byte) reply { return reply{status: http.StatusOK, raw: body} }

// statusOK is the body of an answer that carries nothing else.
type statusOK struct {
	Status string `json:"status"`
}

var okBody = statusOK{Status: "ok"}

func errorReply(status int, msg string) reply {
	return reply{status: status, body: errorBody{Status: "error", Error: msg}}
}

// errorBody keeps "status" before "error", as the original prints them.
type errorBody struct {
	Status string `json:"status"`
	Error  string `json:"error"`
}

// errorToReply maps an error from parameter checks, lookups or Apply to what the
// original server answers: 404 "Canary Not Found" or 400 with a readable message.
func errorToReply(err error) reply {
	var api *apiError
	switch {
	case errors.As(err, &api):
		return errorReply(api.status, api.msg)
	case errors.Is(err, fsm.ErrChannelNotFound):
		return errorReply(http.StatusNotFound, err.Error())
	case errors.Is(err, fsm.ErrNotFound):
		return errorReply(http.StatusNotFound, msgCanaryNotFound)
	case errors.Is(err, fsm.ErrNoUpdates):
		return errorReply(http.StatusBadRequest, "No updates specified")
	case errors.Is(err, fsm.ErrAlreadyPaused):
		return errorReply(http.StatusBadRequest, "Canary is already paused")
	case errors.Is(err, fsm.ErrAlreadyUnpaused):
		return errorReply(http.StatusBadRequest, "Canary is already unpaused")
	case errors.Is(err, fsm.ErrAlreadyExists):
		// "canary already exists: canary x already exists with identifier y" reads as
		// the original's "Canary x already exists with identifier y".
		msg := err.Error()
		if _, detail, found := strings.Cut(msg, fsm.ErrAlreadyExists.Error()+": "); found {
			msg = detail
		}
		return errorReply(http.StatusBadRequest, capitalize(msg))
	default:
		return errorReply(http.StatusBadRequest, err.Error())
	}
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// write sends a reply as the original does: indented JSON (4 spaces, ": " between key
// and value) ending in a newline. HTML characters are not escaped.
func (s *server) write(c *gin.Context, r reply) {
	body := r.raw
	if body == nil {
		var err error
		if body, err = encodeBody(r.body); err != nil {
			s.log.Error("encode response", "path", c.FullPath(), "error", err)
			body = []byte(`{"status": "error", "error": "500 Internal Server Error"}` + "\n")
			r.status = http.StatusInternalServerError
		}
	}
	c.Header("Content-Type", contentTypeJSON)
	c.Status(r.status)
	_, _ = c.Writer.Write(body)
}

func encodeBody(body any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *server) writeError(c *gin.Context, status int, msg string) {
	s.write(c, errorReply(status, msg))
}
