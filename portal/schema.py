"""The client portal's tables, as this project knows them.

They belong to the portal (another application). In development and tests a
migration creates them with CREATE TABLE IF NOT EXISTS so the project runs
alone; in production they already exist and the statements do nothing.
"""

from __future__ import annotations

OPEN_STATUSES = ("pending", "in_progress", "awaiting_client", "exception")
CLOSED_STATUSES = ("completed", "delivered", "cancelled")
ORDER_STATUSES = OPEN_STATUSES + CLOSED_STATUSES

CREATE_TABLES = [
    """
    CREATE TABLE IF NOT EXISTS clients (
        id varchar(64) PRIMARY KEY,
        name varchar(200) NOT NULL,
        tier varchar(32) NOT NULL DEFAULT 'standard',
        created_at timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS orders (
        id varchar(64) PRIMARY KEY,
        client_id varchar(64) NOT NULL REFERENCES clients (id),
        package_id varchar(64) NOT NULL,
        package_type varchar(64) NOT NULL,
        status varchar(32) NOT NULL DEFAULT 'pending',
        vendor_id bigint NULL,
        assigned_to_id integer NULL,
        escalation_level integer NOT NULL DEFAULT 0,
        created_at timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
        updated_at timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP
    )
    """,
    "CREATE INDEX IF NOT EXISTS orders_status_idx ON orders (status)",
    "CREATE INDEX IF NOT EXISTS orders_vendor_idx ON orders (vendor_id)",
    "CREATE INDEX IF NOT EXISTS orders_updated_idx ON orders (updated_at)",
    "CREATE INDEX IF NOT EXISTS orders_assigned_idx ON orders (assigned_to_id)",
]

# Dropping the portal's tables is never right outside a throwaway database.
DROP_TABLES = ["DROP TABLE IF EXISTS orders", "DROP TABLE IF EXISTS clients"]
