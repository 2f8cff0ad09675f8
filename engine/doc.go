// Package engine is Riposte's crash-safe executor of playbook runs
// (durable-engine.md; step semantics from cacao.md §2, §5, §6, §9).
//
// A run's state is the fold of its append-only journal (Fold). Every input
// — start, task result, timer fired, inquiry answered, child run ended,
// cancel — is one transition: the pure decider (machine) reads the
// snapshot and the pinned playbook, emits journal events and folds them as
// it goes; the store writes the events, the new snapshot and the rows the
// events imply (tasks, timers, inquiries, effects, child runs) in ONE
// SQLite transaction (synchronous=FULL, one writer goroutine with group
// commit, each transition isolated by a savepoint).
//
// Side effects run outside transactions: a worker leases a task (fence
// token +1, lease_until), calls the connector with the idempotency key
// run:instance:command:attempt, and reports the result, which is accepted
// only with the current fence. The effects table remembers each key: a
// recorded result is never re-sent; a key found "sending" on a later lease
// is an unknown outcome — re-sent with the same key when the operation is
// Idempotent, otherwise turned into an inquiry for a person.
//
// Nothing waits in a goroutine: delays, step timeouts, retry backoffs and
// approval deadlines are timer rows fired by a polling loop; approvals are
// inquiry rows answered through Answer.
package engine
