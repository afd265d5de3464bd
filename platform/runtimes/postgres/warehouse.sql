-- The demo warehouse's tables, created by `mlp up` in the `warehouse` database (idempotent).
-- `transactions` is the raw data: Debezium captures it into Kafka, features are computed from it.
CREATE TABLE IF NOT EXISTS public.transactions (
    id          bigserial PRIMARY KEY,
    account_id  text           NOT NULL,
    merchant    text           NOT NULL,
    category    text           NOT NULL,
    amount      numeric(12, 2) NOT NULL,
    created_at  timestamptz    NOT NULL DEFAULT now(),
    is_fraud    boolean
);
-- Debezium needs the full old row on updates and deletes to describe them.
ALTER TABLE public.transactions REPLICA IDENTITY FULL;
