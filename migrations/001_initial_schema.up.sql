-- 001_initial_schema: products and candles (DESIGN.md sections 2 and 5).
--
-- Runs inside one transaction, under the runner's advisory lock. The same
-- file serves plain PostgreSQL (>= 13) and TimescaleDB: the hypertable and
-- compression steps run only when the extension can be created.

CREATE TABLE products (
    product_id  text        PRIMARY KEY
                            CHECK (product_id ~ '^[A-Z0-9]{1,16}-[A-Z0-9]{1,16}$'),
    base        text        NOT NULL,
    quote       text        NOT NULL,
    status      text        NOT NULL DEFAULT 'online',
    active      boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX products_active_idx ON products (product_id) WHERE active;

-- One row per (product, granularity, bucket start). Decimals are NUMERIC
-- without a fixed scale, so "68900.50" reads back as written. trades,
-- last_trade_id and ts are NULL for candles taken from the exchange's REST
-- API. rev grows per key; the upsert never lets a lower rev, or an
-- incomplete row, replace what is stored.
--
-- The service validates every candle before writing (ids, alignment,
-- low <= open/close <= high, prices > 0); the checks here are the cheap
-- ones that keep other writers honest. The full set (a regular expression
-- per id, ten NUMERIC comparisons per row) took roughly 10-25% of the
-- batched upsert's CPU in tools/bench-store.
CREATE TABLE candles (
    product_id     text        NOT NULL,
    granularity    text        NOT NULL
                               CHECK (granularity IN ('ONE_MINUTE', 'FIVE_MINUTE', 'FIFTEEN_MINUTE',
                                                      'THIRTY_MINUTE', 'ONE_HOUR', 'TWO_HOUR',
                                                      'FOUR_HOUR', 'SIX_HOUR', 'ONE_DAY')),
    start          timestamptz NOT NULL,
    open           numeric     NOT NULL,
    high           numeric     NOT NULL,
    low            numeric     NOT NULL CHECK (low <= high),
    close          numeric     NOT NULL,
    volume         numeric     NOT NULL CHECK (volume >= 0),
    trades         bigint      CHECK (trades >= 0),
    last_trade_id  bigint      CHECK (last_trade_id >= 0),
    complete       boolean     NOT NULL DEFAULT false,
    rev            bigint      NOT NULL DEFAULT 0 CHECK (rev >= 0),
    ts             timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, granularity, start)
) WITH (fillfactor = 90);  -- room for HOT updates of live rows

-- The history query (/api/candles) and the seeding range scans are served by
-- the primary key (product_id, granularity, start). Seeding also looks for
-- incomplete rows whose bucket has closed: a small partial index.
CREATE INDEX candles_incomplete_idx ON candles (product_id, granularity, start)
    WHERE NOT complete;

-- TimescaleDB, when the server has it preloaded (docker-compose uses a
-- TimescaleDB image; Debian 12 has no package, so this is skipped there).
DO $timescale$
DECLARE
    v text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       OR position('timescaledb' IN current_setting('shared_preload_libraries')) = 0 THEN
        RAISE NOTICE 'timescaledb not available: candles stays a plain table';
        RETURN;
    END IF;

    CREATE EXTENSION IF NOT EXISTS timescaledb;
    PERFORM create_hypertable('candles', 'start',
                              chunk_time_interval => interval '1 day',
                              if_not_exists => true,
                              migrate_data => true);

    SELECT extversion INTO v FROM pg_extension WHERE extname = 'timescaledb';
    -- Upserts into compressed chunks need TimescaleDB >= 2.11.
    IF string_to_array(split_part(v, '-', 1), '.')::int[] < ARRAY[2, 11] THEN
        RAISE NOTICE 'timescaledb % is older than 2.11: compression left off', v;
        RETURN;
    END IF;

    EXECUTE 'ALTER TABLE candles SET (timescaledb.compress,'
            ' timescaledb.compress_segmentby = ''product_id, granularity'','
            ' timescaledb.compress_orderby = ''start DESC'')';
    -- Chunks hold one day; a chunk is compressed once all its candles are
    -- past the repair horizon (25 h) and the correction window: after 2 days.
    PERFORM add_compression_policy('candles', compress_after => interval '2 days',
                                   if_not_exists => true);
END
$timescale$;
