// Package httpjson writes JSON answers and errors in the one shape every
// Riposte endpoint uses: {"error": {"code": "...", "message": "..."}}.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write sends v as JSON with status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ErrorBody is the shape of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: Code is stable for scripts, Message is
// for a person and says what to do.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error sends an error answer.
func Error(w http.ResponseWriter, status int, code, msg string) {
	Write(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}
