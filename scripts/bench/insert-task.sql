-- pgbench script: the INSERT that POST /tasks performs, straight to Postgres.
INSERT INTO tasks (id, title, kind, payload, idempotency_key)
VALUES (gen_random_uuid(), 'bench task', 'io', '{"ms":0}'::jsonb, NULL)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, title, kind, payload, status, attempts, result, error, created_at, updated_at;
