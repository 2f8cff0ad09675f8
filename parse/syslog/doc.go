// Package syslog turns syslog bytes into structured messages. The syslog
// ingest source (UDP datagrams, TCP streams, files written by a local
// syslogd) feeds it what it receives: Reader splits a TCP stream into frames
// (RFC 6587) and Parse reads one RFC 5424 or RFC 3164 message. The normalize
// package consumes the resulting Message to build an event.Event.
//
// Parsing is lenient where real senders deviate from the RFCs (no PRI in
// lines read from a file, no hostname in messages written to /dev/log, ISO
// timestamps in BSD-format lines, unescaped ']' in SD values), because
// dropping a security log line is worse than accepting an odd one. Where a
// message cannot be understood the error says what is wrong, so operators can
// fix the sender.
package syslog
