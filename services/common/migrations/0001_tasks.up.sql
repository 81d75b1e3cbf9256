-- Tasks are the source of truth; Redis only carries deliveries of them.
CREATE TABLE tasks (
    id              uuid PRIMARY KEY,
    title           text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    kind            text        NOT NULL CHECK (kind IN ('io', 'cpu', 'fail', 'flaky')),
    -- json, not jsonb: stored as sent. jsonb rewrites numbers (1e300 becomes
    -- 301 digits) into forms JSON parsers reject, and refuses \u0000.
    payload         json        NOT NULL DEFAULT '{}'::json,
    status          text        NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'DONE', 'FAILED')),
    attempts        integer     NOT NULL DEFAULT 0,
    result          jsonb,
    error           text,
    -- A new run_id is drawn by every POST /tasks/{id}/run; deliveries that
    -- carry an older one are stale and are dropped by the worker.
    run_id          uuid,
    idempotency_key text        UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Keyset pagination walks (created_at, id) newest first, optionally per status.
CREATE INDEX tasks_created_idx ON tasks (created_at DESC, id DESC);
CREATE INDEX tasks_status_created_idx ON tasks (status, created_at DESC, id DESC);
-- The reconciler and the cleanup look for old rows in a given status.
CREATE INDEX tasks_status_updated_idx ON tasks (status, updated_at);

-- One row per attempt: the history an operator reads, and the proof that a
-- task completed exactly once even when a delivery was repeated.
CREATE TABLE task_runs (
    task_id     uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    run_id      uuid        NOT NULL,
    attempt     integer     NOT NULL,
    worker      text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome     text CHECK (outcome IN ('done', 'retry', 'failed', 'dead', 'released')),
    error       text,
    PRIMARY KEY (task_id, run_id, attempt, worker, started_at)
);
