-- Reverts 001_initial_schema. The timescaledb extension is left installed:
-- other databases objects may use it, and dropping it needs a superuser.
DROP TABLE IF EXISTS candles;
DROP TABLE IF EXISTS products;
